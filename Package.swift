// swift-tools-version:6.1
import PackageDescription

/// quadcat: an embedded catalog for LLM training-data selection.
///
/// Module map (what each module may import: docs/ARCHITECTURE.md):
/// - `CKernels`: C kernels with runtime CPU dispatch (float16/bfloat16 conversion, int8 quantisation,
///   byte shuffle, xxHash64, SHA-256). They live in C because Swift on Linux cannot select AVX2/F16C
///   per function, and the conversions must run near memory bandwidth on any x86-64 machine.
/// - `CLZ4`, `COpenBLAS`: the system liblz4 (apt liblz4-dev) and OpenBLAS (apt libopenblas-dev).
/// - `COpenSSL`, `CZlib`, `CZstd`: the system libcrypto (SHA-256), zlib and libzstd (compressed JSONL inputs).
/// - `CRecordParser`: a small C++ shim giving the system simdjson (apt libsimdjson-dev) a C API for Swift.
/// - `Ingest`: readers for JSONL (plain, gzip or zstd; files or standard input), NumPy .npy and safetensors.
/// - `Selectors`: the selection algorithms, pure functions over row-major Float32 matrices.
/// - `Catalog`: the catalog directory (SQLite index through GRDB, chunk store), queries and exports.
/// - `quadcat`: the command-line tool.
let package = Package(
    name: "quadcat",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "quadcat", targets: ["quadcat"]),
        .library(name: "Catalog", targets: ["Catalog"]),
        .library(name: "Selectors", targets: ["Selectors"]),
        .library(name: "Ingest", targets: ["Ingest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "CKernels",
            dependencies: ["COpenSSL"],
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]
        ),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // simdjson's pkg-config flags are a define SwiftPM refuses to take from pkg-config, so this target
        // sets it itself: the Debian library is built with threads, which changes dom::parser's layout.
        .target(
            name: "CRecordParser",
            cxxSettings: [.define("SIMDJSON_THREADS_ENABLED"), .unsafeFlags(["-O3"])],
            linkerSettings: [.linkedLibrary("simdjson")]),
        .target(name: "Ingest", dependencies: ["CKernels", "CRecordParser", "CZlib", "CZstd"]),
        .target(name: "Selectors", dependencies: ["CKernels", "COpenBLAS"]),
        .target(
            name: "Catalog",
            dependencies: [
                "CKernels", "CLZ4", "Ingest", "Selectors",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        .executableTarget(
            name: "quadcat",
            dependencies: [
                "Catalog", "Ingest", "Selectors",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Shared by the test targets only: temporary directories, fixture files, running the binary.
        .target(name: "TestSupport", dependencies: ["Catalog", "Ingest", "Selectors", "CKernels", "CZlib", "CZstd"], path: "Tests/Support"),
        // `make bench`: throughput and selector timings against a NumPy reference (BENCHMARKS.md).
        .executableTarget(
            name: "quadcat-bench",
            dependencies: ["Catalog", "Ingest", "Selectors", "CKernels", "TestSupport", "BenchBaselines", "CRecordParser"]),
        // The bench's baselines for issue 14: the hand-written SHA-256 quadcat had before OpenSSL, and
        // libxxhash's XXH64 next to our own.
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),
        .target(name: "BenchBaselines", dependencies: ["CXXHash"], cSettings: [.unsafeFlags(["-O3"])]),
        .testTarget(name: "KernelsTests", dependencies: ["CKernels"]),
        .testTarget(name: "IngestTests", dependencies: ["Ingest", "CKernels", "TestSupport"]),
        .testTarget(name: "SelectorsTests", dependencies: ["Selectors"]),
        .testTarget(
            name: "CatalogTests",
            dependencies: ["Catalog", "Ingest", "Selectors", "CKernels", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "CLITests", dependencies: ["Catalog", "Ingest", "Selectors", "TestSupport"]),
    ]
)
