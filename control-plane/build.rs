//! Rebuilds this crate when the dashboard's files change, so the binary embeds (release)
//! or serves (debug) the current build of `web-ui/dist`.
fn main() {
    println!("cargo:rerun-if-changed=../web-ui/dist");
}
