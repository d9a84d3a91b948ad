//! Compiles proto/eddy.proto into tonic clients and servers (feature `rpc`).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/eddy.proto");
    if std::env::var_os("CARGO_FEATURE_RPC").is_some() {
        tonic_prost_build::configure().compile_protos(&["proto/eddy.proto"], &["proto"])?;
    }
    Ok(())
}
