// A peer of meshwasm's filter for bench/envoy.mjs, written the way a Go user of proxy-wasm-go-sdk
// would: per request, one GET /jump to back-python with the request's x-request-id, fire-and-forget
// (the request continues at once; the reply is only counted). Plugin configuration: the cluster name.
package main

import (
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetPluginContext(func(uint32) types.PluginContext { return &plugin{} })
}

type plugin struct {
	types.DefaultPluginContext
	cluster   string
	authority string
}

func (p *plugin) OnPluginStart(int) types.OnPluginStartStatus {
	config, err := proxywasm.GetPluginConfiguration()
	if err != nil || len(config) == 0 {
		proxywasm.LogCritical("bench-go-filter: the plugin configuration must be the cluster name")
		return types.OnPluginStartStatusFailed
	}
	p.cluster = string(config)
	// outbound|PORT|SUBSET|HOST -> HOST, as meshwasm does.
	p.authority = p.cluster
	for i := len(p.cluster) - 1; i >= 0; i-- {
		if p.cluster[i] == '|' {
			p.authority = p.cluster[i+1:]
			break
		}
	}
	return types.OnPluginStartStatusOK
}

func (p *plugin) NewHttpContext(uint32) types.HttpContext { return &stream{plugin: p} }

type stream struct {
	types.DefaultHttpContext
	plugin *plugin
}

func (s *stream) OnHttpRequestHeaders(int, bool) types.Action {
	headers := [][2]string{{":method", "GET"}, {":path", "/jump"}, {":authority", s.plugin.authority}}
	if id, err := proxywasm.GetHttpRequestHeader("x-request-id"); err == nil {
		headers = append(headers, [2]string{"x-request-id", id})
	}
	if _, err := proxywasm.DispatchHttpCall(s.plugin.cluster, headers, nil, nil, 5000, replied); err != nil {
		proxywasm.LogWarnf("bench-go-filter: dispatch failed: %v", err)
	}
	return types.ActionContinue
}

// The reply's :status is read, as a filter that counts successes would.
func replied(int, int, int) {
	headers, _ := proxywasm.GetHttpCallResponseHeaders()
	for _, h := range headers {
		if h[0] == ":status" {
			return
		}
	}
}
