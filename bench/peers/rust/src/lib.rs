// A peer of meshwasm's filter for bench/envoy.mjs, written the way a Rust user of the proxy-wasm
// crate would: per request, one GET /jump to back-python with the request's x-request-id,
// fire-and-forget (the request continues at once; the reply's :status is only read).
// Plugin configuration: the cluster name.
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use std::rc::Rc;
use std::time::Duration;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Plugin::default()) });
}}

#[derive(Default)]
struct Plugin {
    target: Rc<Target>,
}

#[derive(Default)]
struct Target {
    cluster: String,
    authority: String,
}

impl Context for Plugin {}

impl RootContext for Plugin {
    fn on_configure(&mut self, _: usize) -> bool {
        let cluster = match self.get_plugin_configuration() {
            Some(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).into_owned(),
            _ => {
                proxy_wasm::hostcalls::log(LogLevel::Critical, "bench-rust-filter: the plugin configuration must be the cluster name").ok();
                return false;
            }
        };
        // outbound|PORT|SUBSET|HOST -> HOST, as meshwasm does.
        let authority = cluster.rsplit('|').next().unwrap_or(&cluster).to_string();
        self.target = Rc::new(Target { cluster, authority });
        true
    }

    fn create_http_context(&self, _: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Stream { target: self.target.clone() }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct Stream {
    target: Rc<Target>,
}

impl HttpContext for Stream {
    fn on_http_request_headers(&mut self, _: usize, _: bool) -> Action {
        let id = self.get_http_request_header("x-request-id");
        let mut headers = vec![(":method", "GET"), (":path", "/jump"), (":authority", self.target.authority.as_str())];
        if let Some(id) = id.as_deref() {
            headers.push(("x-request-id", id));
        }
        if let Err(status) = self.dispatch_http_call(&self.target.cluster, headers, None, vec![], Duration::from_secs(5)) {
            proxy_wasm::hostcalls::log(LogLevel::Warn, &format!("bench-rust-filter: dispatch failed: {:?}", status)).ok();
        }
        Action::Continue
    }
}

impl Context for Stream {
    fn on_http_call_response(&mut self, _: u32, _: usize, _: usize, _: usize) {
        let _ = self.get_http_call_response_header(":status");
    }
}
