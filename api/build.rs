//! Compiles proto/eddy.proto into tonic clients and servers (feature `rpc`; the wasm
//! dashboard builds this crate without it).
fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/eddy.proto");
    #[cfg(feature = "rpc")]
    tonic_prost_build::configure().compile_protos(&["proto/eddy.proto"], &["proto"])?;
    Ok(())
}
