import ArgumentParser

/// `mystore-bench`: storage benchmarks (cluster workloads join later).
struct MyStoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mystore-bench",
        abstract: "MyStore benchmarks. Build with -c release before timing anything.",
        subcommands: [WALBench.self, SnapshotBench.self])
}

MyStoreBench.main()
