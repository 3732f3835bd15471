// A proxy-wasm module that is not ours, on proxy-wasm-go-sdk, run by the Node host and by real
// Envoy in test/engines-modules.test.ts: request headers, a local reply, an http_call, a tick,
// shared data (a CAS counter) and a counter metric. Every observable is put on the response so
// both engines can be compared from the outside.
package main

import (
	"strconv"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() { proxywasm.SetVMContext(&vm{}) }

type vm struct{}

func (*vm) OnVMStart(int) types.OnVMStartStatus { return types.OnVMStartStatusOK }
func (*vm) NewPluginContext(uint32) types.PluginContext {
	return &plugin{requests: proxywasm.DefineCounterMetric("gosdk.requests")}
}

type plugin struct {
	requests proxywasm.MetricCounter
}

func (p *plugin) OnPluginStart(int) types.OnPluginStartStatus {
	if err := proxywasm.SetTickPeriodMilliSeconds(50); err != nil {
		proxywasm.LogCriticalf("gosdk: tick: %v", err)
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}
func (*plugin) OnPluginDone() bool     { return true }
func (*plugin) OnQueueReady(uint32)    {}
func (*plugin) OnTick()                { _ = proxywasm.SetSharedData("gosdk.ticked", []byte("yes"), 0) }
func (*plugin) NewTcpContext(uint32) types.TcpContext { return nil }
func (p *plugin) NewHttpContext(uint32) types.HttpContext { return &stream{plugin: p} }

type stream struct {
	plugin  *plugin
	callout string
}

// count increments the shared counter with compare-and-swap and returns the new value.
func count() int {
	for {
		value, cas, err := proxywasm.GetSharedData("gosdk.count")
		n := 0
		if err == nil {
			n, _ = strconv.Atoi(string(value))
		}
		if proxywasm.SetSharedData("gosdk.count", []byte(strconv.Itoa(n+1)), cas) == nil {
			return n + 1
		}
	}
}

func (s *stream) OnHttpRequestHeaders(int, bool) types.Action {
	s.plugin.requests.Increment(1)
	path, _ := proxywasm.GetHttpRequestHeader(":path")
	if path == "/deny" {
		_ = proxywasm.SendHttpResponse(403, [][2]string{{"x-gosdk", "denied"}}, []byte("denied by go"), -1)
		return types.ActionPause
	}
	who, _ := proxywasm.GetHttpRequestHeader("x-who")
	_, err := proxywasm.DispatchHttpCall("back", [][2]string{
		{":method", "POST"}, {":path", "/go"}, {":authority", "back"}, {"x-who", who},
	}, []byte("from go"), nil, 1000, func(int, int, int) {
		headers, _ := proxywasm.GetHttpCallResponseHeaders()
		for _, h := range headers {
			if h[0] == ":status" {
				s.callout = h[1]
			}
		}
		body, _ := proxywasm.GetHttpCallResponseBody(0, 100)
		s.callout += " " + string(body)
		_ = proxywasm.ResumeHttpRequest()
	})
	if err != nil {
		s.callout = "dispatch failed: " + err.Error()
		return types.ActionContinue
	}
	return types.ActionPause
}

func (*stream) OnHttpRequestBody(int, bool) types.Action { return types.ActionContinue }
func (*stream) OnHttpRequestTrailers(int) types.Action   { return types.ActionContinue }
func (s *stream) OnHttpResponseHeaders(int, bool) types.Action {
	ticked, _, err := proxywasm.GetSharedData("gosdk.ticked")
	if err != nil {
		ticked = []byte("no")
	}
	_ = proxywasm.AddHttpResponseHeader("x-gosdk-callout", s.callout)
	_ = proxywasm.AddHttpResponseHeader("x-gosdk-ticked", string(ticked))
	_ = proxywasm.AddHttpResponseHeader("x-gosdk-count", strconv.Itoa(count()))
	return types.ActionContinue
}
func (*stream) OnHttpResponseBody(int, bool) types.Action { return types.ActionContinue }
func (*stream) OnHttpResponseTrailers(int) types.Action   { return types.ActionContinue }
func (*stream) OnHttpStreamDone()                         {}
