//! Builds the vendored libzmq (zeromq-src, offline) with CURVE: linked against the system's
//! libsodium (Debian's libsodium-dev), found with pkg-config. The published zmq-sys 0.12 passes
//! no libsodium location, so its libzmq has no CURVE at all.

fn main() {
    println!("cargo:rerun-if-changed=build/main.rs");
    println!("cargo:rerun-if-env-changed=PROFILE");
    let dir = |variable: &str| {
        pkg_config::get_variable("libsodium", variable).unwrap_or_else(|e| {
            panic!("libsodium not found ({}): install libsodium-dev (scripts/setup.sh)", e)
        })
    };
    let (lib, include) = (dir("libdir"), dir("includedir"));
    // zeromq-src prints its own search path with quotes around it, which rustc does not find.
    println!("cargo:rustc-link-search=native={lib}");
    // zeromq-src links libsodium statically: the role binaries need no libsodium.so at run time.
    let sodium = zeromq_src::LibLocation::new(lib, include);
    zeromq_src::Build::new().with_libsodium(Some(sodium)).build();
}
