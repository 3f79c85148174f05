import ArgumentParser

/// `mystore-bench`: storage benchmarks and workloads against a running cluster.
struct MyStoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mystore-bench",
        abstract: "MyStore benchmarks. Build with -c release before timing anything.",
        subcommands: [PutBench.self, GetBench.self, MixedBench.self, CasBench.self, WALBench.self, SnapshotBench.self, StateSnapshotBench.self])
}

MyStoreBench.main()
