//! Generates the gRPC admin code (`proto/admin.proto`, package
//! `mpcluster.admin.v1`) at build time, and records the git commit that
//! `--version` prints. `protox` parses the proto in pure Rust, so no
//! `protoc` binary is needed; the descriptor set goes to
//! `tonic-prost-build`, which writes the messages, the server trait and the
//! client into `OUT_DIR` for `admin/grpc.rs` to include.

use std::path::PathBuf;

include!("../git_commit.rs");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    emit_git_commit();
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_dir = manifest.join("../../proto");
    let proto = proto_dir.join("admin.proto");
    println!("cargo:rerun-if-changed={}", proto.display());
    let fds = protox::compile([&proto], [&proto_dir])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
