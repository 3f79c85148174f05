import ArgumentParser
import MultiRaft
import RaftSimulator

/// `mystore-sim`: runs the deterministic cluster simulator over many seeds.
struct MyStoreSim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mystore-sim",
        abstract: "Deterministic simulation of Raft clusters with safety checks after every step.",
        discussion: "One seed reproduces a run exactly. The last line is 'N seeds, V violations'; the exit code is non-zero when V > 0."
    )

    @Option(help: "Number of seeds to run.") var seeds: Int = 100
    @Option(help: "First seed.") var firstSeed: UInt64 = 1
    @Option(help: "Voters per group at bootstrap (3 or 5).") var nodes: Int = 3
    @Option(help: "Raft groups sharing the simulated nodes.") var groups: Int = 1
    @Option(help: "Simulated ticks of faults and load per seed.") var ticks: Int = 1200
    @Option(help: "Turn on a deliberate bug: \(PlantedBug.allCases.map(\.rawValue).joined(separator: ", ")).")
    var plantBug: [String] = []
    @Flag(help: "Stop at the first violation.") var stopAtFirst = false
    @Flag(help: "Print every fault, election and membership event (use with one seed).") var verbose = false

    func validate() throws {
        guard nodes == 3 || nodes == 5 else { throw ValidationError("--nodes must be 3 or 5, got \(nodes)") }
        guard groups >= 1 && groups <= 64 else { throw ValidationError("--groups must be 1...64, got \(groups)") }
        guard seeds >= 1 else { throw ValidationError("--seeds must be at least 1") }
        guard ticks >= 50 else { throw ValidationError("--ticks must be at least 50") }
        if !plantBug.isEmpty && !PlantedBug.compiledIn {
            throw ValidationError("this build has no planted bugs (they are compiled only into debug builds and scripts/fault-test's build)")
        }
        for b in plantBug where PlantedBug(rawValue: b) == nil {
            throw ValidationError("unknown bug '\(b)'; known: \(PlantedBug.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        var template = SimulationOptions()
        template.nodes = nodes
        template.groups = groups
        template.ticks = ticks
        template.verbose = verbose
        template.plantedBugs = Set(plantBug.compactMap(PlantedBug.init(rawValue:)))
        let summary = SimulationRunner.run(seeds: seeds, firstSeed: firstSeed, template: template,
                                           stopAtFirstViolation: stopAtFirst) { v in print("VIOLATION \(v)") }
        let s = summary.stats
        print("stats: steps \(s.steps), elections \(s.elections), writes acked \(s.writesAcked), reads checked \(s.readsChecked), crashes \(s.crashes), partitions \(s.partitions), conf changes \(s.confChangesApplied), snapshots installed \(s.snapshotsInstalled), compactions \(s.compactions), transfers \(s.transfers), messages \(s.messagesDelivered) delivered / \(s.messagesDropped) dropped")
        print("\(summary.seeds) seeds, \(summary.violations.count) violations")
        if !summary.violations.isEmpty { throw ExitCode(1) }
    }
}

MyStoreSim.main()
