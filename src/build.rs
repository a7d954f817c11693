//! Link step: route ggml's graph computations through vidscribe so that the encoder can be
//! stopped (see `__wrap_ggml_graph_compute` in src/asr/transcribe.rs).
fn main() {
    println!("cargo:rerun-if-changed=src/build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os == "linux" && env == "gnu" {
        println!("cargo:rustc-link-arg=-Wl,--wrap=ggml_graph_compute");
    }
}
