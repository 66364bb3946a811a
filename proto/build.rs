//! Compiles the `.proto` files with the pure-Rust `protox` parser, so no system `protoc` is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let files = [
        "ttx/common/v1/common.proto",
        "ttx/envelope/v1/envelope.proto",
        "ttx/audit/v1/queries.proto",
        "ttx/identity/v1/identity.proto",
        "ttx/listings/v1/results.proto",
        "ttx/listings/v1/demands.proto",
        "ttx/listings/v1/search.proto",
        "ttx/negotiation/v1/negotiation.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let descriptors = protox::compile(files, [&root])?;
    prost_build::Config::new().bytes(["."]).compile_fds(descriptors)?;
    Ok(())
}
