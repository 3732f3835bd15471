// Command meshwasm-xds runs istiod's own translation (the fake discovery server Istio's pilot tests
// use) over rendered manifests plus fixture objects, and prints the xDS each named proxy would get
// as one JSON document on stdout. The TypeScript tests decide what that xDS must contain; this
// program only asks Istio, so the same source builds against every Istio version we test.
//
//	meshwasm-xds -proxies proxies.json file.yaml...
//
// proxies.json: [{"name", "type" (sidecar|router|waypoint), "namespace", "ip", "labels"}].
// Istio reads its feature flags from the environment as its packages initialise, as istiod does:
// waypoints need PILOT_ENABLE_AMBIENT=true (test/helpers/istio-xds.ts sets it).
// Output: {"istio": version, "proxies": {name: {"listeners": [...], "clusters": [...], "ecds": [...]}}}
// with each resource in Envoy's protobuf JSON form.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"istio.io/istio/pilot/pkg/model"
	"istio.io/istio/pilot/test/xds"
	"istio.io/istio/pkg/log"
)

type proxySpec struct {
	Name      string            `json:"name"`
	Type      string            `json:"type"`
	Namespace string            `json:"namespace"`
	IP        string            `json:"ip"`
	Labels    map[string]string `json:"labels"`
}

type proxyXDS struct {
	Listeners []json.RawMessage `json:"listeners"`
	Clusters  []json.RawMessage `json:"clusters"`
	ECDS      []json.RawMessage `json:"ecds"`
}

// failer stands in for *testing.T: the fake server reports setup problems through it, and those
// are fatal here (a fixture or manifest Istio cannot load must fail the test that gave it).
type failer struct{ cleanups []func() }

func (f *failer) Fail()                          { die("istio: fail") }
func (f *failer) FailNow()                       { die("istio: fail") }
func (f *failer) Fatal(args ...any)              { die(fmt.Sprint(args...)) }
func (f *failer) Fatalf(format string, a ...any) { die(fmt.Sprintf(format, a...)) }
func (f *failer) Log(args ...any)                { fmt.Fprintln(os.Stderr, args...) }
func (f *failer) Logf(format string, a ...any)   { fmt.Fprintf(os.Stderr, format+"\n", a...) }
func (f *failer) TempDir() string                { d, _ := os.MkdirTemp("", "meshwasm-xds"); return d }
func (f *failer) Helper()                        {}
func (f *failer) Cleanup(fn func())              { f.cleanups = append(f.cleanups, fn) }
func (f *failer) Skip(args ...any)               { die(fmt.Sprint(args...)) }

func die(msg string) {
	fmt.Fprintln(os.Stderr, "meshwasm-xds:", msg)
	os.Exit(1)
}

var proxyTypes = map[string]model.NodeType{
	"sidecar":  model.SidecarProxy,
	"router":   model.Router,
	"waypoint": model.Waypoint,
}

func main() {
	proxiesFile := flag.String("proxies", "", "JSON list of the proxies to compute xDS for")
	proxyVersion := flag.String("proxy-version", "", "Istio version the proxies report (EnvoyFilter proxyVersion matches)")
	flag.Parse()
	if *proxiesFile == "" || flag.NArg() == 0 {
		die("usage: meshwasm-xds -proxies proxies.json file.yaml...")
	}
	// Istio logs every config event at info; only problems belong on stderr here.
	opts := log.DefaultOptions()
	opts.SetDefaultOutputLevel(log.OverrideScopeName, log.WarnLevel)
	// stdout carries the JSON document only.
	opts.OutputPaths = []string{"stderr"}
	opts.ErrorOutputPaths = []string{"stderr"}
	_ = log.Configure(opts)

	var specs []proxySpec
	raw, err := os.ReadFile(*proxiesFile)
	if err != nil {
		die(err.Error())
	}
	if err := json.Unmarshal(raw, &specs); err != nil {
		die(*proxiesFile + ": " + err.Error())
	}
	var docs []string
	for _, name := range flag.Args() {
		b, err := os.ReadFile(name)
		if err != nil {
			die(err.Error())
		}
		docs = append(docs, string(b))
	}
	all := strings.Join(docs, "\n---\n")

	t := &failer{}
	defer func() {
		for i := len(t.cleanups) - 1; i >= 0; i-- {
			t.cleanups[i]()
		}
	}()
	// The ambient index (waypoints) and the Gateway API controller read Kubernetes objects while
	// the config store reads Istio's kinds, so every document goes to both, as Istio's tests do.
	s := xds.NewFakeDiscoveryServer(t, xds.FakeOptions{ConfigString: all, KubernetesObjectString: all})

	out := map[string]proxyXDS{}
	for _, spec := range specs {
		typ, ok := proxyTypes[spec.Type]
		if !ok {
			die(fmt.Sprintf("%s: proxy type %q is not one of sidecar, router, waypoint", *proxiesFile, spec.Type))
		}
		p := &model.Proxy{
			Type:            typ,
			ID:              spec.Name + "." + spec.Namespace,
			ConfigNamespace: spec.Namespace,
			Labels:          spec.Labels,
			IPAddresses:     []string{spec.IP},
			Metadata:        &model.NodeMetadata{Labels: spec.Labels, Namespace: spec.Namespace, IstioVersion: *proxyVersion},
		}
		p = s.SetupProxy(p)
		listeners := s.Listeners(p)
		clusters := s.Clusters(p)
		var px proxyXDS
		var ecdsNames []string
		for _, l := range listeners {
			px.Listeners = append(px.Listeners, toJSON(l))
		}
		for _, c := range clusters {
			px.Clusters = append(px.Clusters, toJSON(c))
		}
		ecdsNames = discoveredNames(px.Listeners)
		for _, e := range s.ConfigGen.BuildExtensionConfiguration(p, s.PushContext(), ecdsNames, nil) {
			px.ECDS = append(px.ECDS, toJSON(e))
		}
		out[spec.Name] = px
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(map[string]any{"proxies": out}); err != nil {
		die(err.Error())
	}
}

func toJSON(m proto.Message) json.RawMessage {
	b, err := protojson.Marshal(m)
	if err != nil {
		die(err.Error())
	}
	return b
}

// discoveredNames collects every ECDS resource name the listeners refer to (config_discovery), so
// that the extension configs Istio would serve for them can be asked for by name.
func discoveredNames(listeners []json.RawMessage) []string {
	seen := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				if k == "configDiscovery" {
					if m, ok := child.(map[string]any); ok {
						if src, ok := m["configSource"]; ok && src != nil {
							if name, ok := x["name"].(string); ok {
								seen[name] = true
							}
						}
					}
				}
				walk(child)
			}
		case []any:
			for _, child := range x {
				walk(child)
			}
		}
	}
	for _, l := range listeners {
		var v any
		_ = json.Unmarshal(l, &v)
		walk(v)
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
