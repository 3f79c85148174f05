// swift-tools-version:6.1
import PackageDescription

// The Raft core and the simulator are compiled with optimization even in debug builds, so
// `swift test` can run thousands of simulated seeds within CI's time.
let optimizedInDebug: [SwiftSetting] = [.unsafeFlags(["-O", "-enforce-exclusivity=unchecked"], .when(configuration: .debug))]
// The planted bugs of fault testing (PlantedBug, PlantedBugs) are compiled only into debug
// builds and the fault-testing build (scripts/fault-test adds -DMYSTORE_PLANTED_BUGS); a
// release build has no hook for them on any path.
let plantedBugs: SwiftSetting = .define("MYSTORE_PLANTED_BUGS", .when(configuration: .debug))

let package = Package(
    name: "MyStore",
    // No `platforms:`: Linux only (CEpoll includes sys/epoll.h, which macOS lacks, and mystore-bench needs it).
    products: [
        .library(name: "MultiRaft", targets: ["MultiRaft"]),
        .library(name: "ShardRouter", targets: ["ShardRouter"]),
        .library(name: "KVStore", targets: ["KVStore"]),
        .library(name: "RESP", targets: ["RESP"]),
        .library(name: "MyStoreClient", targets: ["MyStoreClient"]),
        .library(name: "Linearizability", targets: ["Linearizability"]),
        .executable(name: "mystore-server", targets: ["Server"]),
        .executable(name: "mystore", targets: ["Admin"]),
        .executable(name: "mystore-sim", targets: ["Simulator"]),
        .executable(name: "mystore-bench", targets: ["Bench"]),
        .executable(name: "mystore-fault", targets: ["FaultRunner"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        // System zlib (Debian: zlib1g-dev); used by the snapshot format.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // System jemalloc (Debian: libjemalloc-dev): the server's allocator. The store allocates
        // many small short-lived buffers (entries, messages, replies); glibc malloc spent about
        // a tenth of the server's CPU on them, jemalloc far less (docs/benchmarks.md).
        .systemLibrary(name: "CJemalloc", path: "Sources/CJemalloc", providers: [.apt(["libjemalloc-dev"])]),
        // CRC-32C with the CPU's instruction where there is one (chosen at run time).
        .target(name: "CCRC32C"),
        // sys/epoll.h for the load generator.
        .target(name: "CEpoll"),
        // The package's one clock (monotonic and wall): the lowest target every timing user
        // shares, MultiRaft's host and storage and the linearizability checker included.
        .target(name: "SystemClock"),
        // The project's swift-log handler (text or JSON lines, `log_level` / `log_format`) and
        // a rate limiter for high-rate events; the node, the CLI and the tools install it.
        .target(name: "NodeLogging", dependencies: ["SystemClock", .product(name: "Logging", package: "swift-log")]),
        // RESP2, the Redis protocol: the reply value, the one parser (requests and replies, with
        // limits) and the encoder. Pure bytes, no sockets or NIO; server, client and bench use it.
        .target(name: "RESP"),
        // Raft core (pure), storage and host protocols. No keys, shards, RESP or sockets.
        .target(name: "MultiRaft", dependencies: ["CZlib", "CCRC32C", "SystemClock", .product(name: "Logging", package: "swift-log")], swiftSettings: optimizedInDebug + [plantedBugs]),
        // Deterministic whole-cluster simulator of the Raft core, with safety checkers.
        .target(name: "RaftSimulator", dependencies: ["MultiRaft"], swiftSettings: optimizedInDebug),
        .executableTarget(
            name: "Simulator",
            dependencies: ["RaftSimulator", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Benchmarks of the storage and of a running cluster (RESP load generator).
        .executableTarget(
            name: "Bench",
            dependencies: [
                "CEpoll",
                "KVStore",
                "MultiRaft",
                "ShardRouter",
                "MyStoreClient",
                "RESP",
                "SystemClock",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // The key-value state machine plugin: strings, expiry, per-key history, client sessions,
        // snapshot encoding. Pure and deterministic; no networking.
        .target(name: "KVStore", dependencies: ["MultiRaft"], swiftSettings: optimizedInDebug),
        // key -> slot -> shard, the shard map and placement (pure functions).
        .target(name: "ShardRouter"),
        .executableTarget(
            name: "Server",
            dependencies: [
                "CJemalloc",
                "MultiRaft",
                "ShardRouter",
                "KVStore",
                "MyStoreClient",
                "RESP",
                "SystemClock",
                "NodeLogging",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: [plantedBugs]
        ),
        // The Swift client library (cluster-aware routing, retries, exactly-once writes) shared by
        // the admin CLI and users' programs. Plain POSIX sockets, no NIO, so it builds quickly.
        .target(name: "MyStoreClient", dependencies: ["ShardRouter", "RESP", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "Admin",
            dependencies: ["ShardRouter", "MyStoreClient", "MultiRaft", "KVStore", "NodeLogging", .product(name: "Logging", package: "swift-log"),
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Linearizability checker for recorded client histories (pure; only the clock, for its time budget).
        .target(name: "Linearizability", dependencies: ["SystemClock"], swiftSettings: optimizedInDebug),
        // The fault-injection runner: real nodes in network namespaces, faults, checked histories.
        .executableTarget(
            name: "FaultRunner",
            dependencies: ["Linearizability", "MyStoreClient", "ShardRouter", "MultiRaft", "SystemClock",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "MultiRaftTests", dependencies: ["MultiRaft", "SystemClock"], exclude: ["testdata"]),
        .testTarget(name: "RESPTests", dependencies: ["RESP"]),
        .testTarget(name: "NodeLoggingTests", dependencies: ["NodeLogging", .product(name: "Logging", package: "swift-log")]),
        // Seeded mutation fuzzing of every decoder of outside input (scripts/fuzz for long runs).
        .testTarget(
            name: "FuzzTests",
            dependencies: ["Server", "Admin", "MultiRaft", "KVStore", "ShardRouter", "MyStoreClient", "RESP",
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio")]
        ),
        // Real nodes in network namespaces under mystore-fault (needs root; skipped otherwise).
        .testTarget(name: "FaultTests"),
        .testTarget(name: "LinearizabilityTests", dependencies: ["Linearizability", "MultiRaft"]),
        .testTarget(name: "RaftSimulatorTests", dependencies: ["RaftSimulator", "MultiRaft"]),
        .testTarget(name: "KVStoreTests", dependencies: ["KVStore", "MultiRaft"]),
        .testTarget(name: "ShardRouterTests", dependencies: ["ShardRouter"]),
        // Real mystore-server processes on loopback (the server is built with the tests).
        .testTarget(name: "IntegrationTests", dependencies: ["MyStoreClient", "ShardRouter", "Linearizability"]),
        .testTarget(name: "MyStoreClientTests", dependencies: ["MyStoreClient", "ShardRouter"]),
        .testTarget(name: "AdminTests", dependencies: ["Admin", "MyStoreClient", "ShardRouter", "MultiRaft", "KVStore"]),
        .testTarget(
            name: "ServerTests",
            dependencies: ["Server", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOEmbedded", package: "swift-nio")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
