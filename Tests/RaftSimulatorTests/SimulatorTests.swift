import Testing
import MultiRaft
@testable import RaftSimulator

/// The simulator over many seeds: zero violations on the real core, and every planted bug
/// caught. Seeds run in shards so Swift Testing can spread them over the cores.
@Suite struct SimulatorTests {
    struct Shape: Sendable, CustomTestStringConvertible {
        var nodes: Int
        var groups: Int
        var firstSeed: UInt64
        var seeds: Int
        var testDescription: String { "\(nodes) nodes x \(groups) groups, seeds \(firstSeed)..<\(firstSeed + UInt64(seeds))" }
    }

    /// 500 seeds per configuration (3 nodes, 5 nodes, several groups), in halves.
    static let shapes: [Shape] = [(3, 1), (5, 1), (3, 3)].flatMap { n, g in
        [Shape(nodes: n, groups: g, firstSeed: 1, seeds: 250), Shape(nodes: n, groups: g, firstSeed: 251, seeds: 250)]
    }

    @Test(arguments: shapes)
    func noViolations(_ shape: Shape) {
        var o = SimulationOptions()
        o.nodes = shape.nodes
        o.groups = shape.groups
        o.ticks = 800
        let summary = SimulationRunner.run(seeds: shape.seeds, firstSeed: shape.firstSeed, template: o)
        #expect(summary.violations.isEmpty, "\(summary.violations.first.map(String.init(describing:)) ?? "")")
        // The seeds really exercise the interesting paths.
        let s = summary.stats
        #expect(s.elections >= 3 * shape.seeds * shape.groups)
        #expect(s.crashes >= 5 * shape.seeds)
        #expect(s.confChangesApplied >= shape.seeds)
        #expect(s.snapshotsInstalled > 0 && s.compactions > 0 && s.transfers > 0)
        #expect(s.writesAcked > 10 * shape.seeds && s.readsChecked > 10 * shape.seeds)
    }

    /// Each planted bug is reported within 2,000 seeds, as the invariant it breaks.
    @Test(arguments: [
        (PlantedBug.commitPreviousTerm, ["state machine safety", "leader completeness", "durability", "linearizable read"]),
        (PlantedBug.forgetVote, ["election safety", "state machine safety", "leader completeness", "log matching", "durability"]),
        (PlantedBug.staleRead, ["linearizable read"]),
    ])
    func plantedBugIsCaught(_ bug: PlantedBug, _ invariants: [String]) {
        var o = SimulationOptions()
        o.plantedBugs = [bug]
        let summary = SimulationRunner.run(seeds: 2_000, firstSeed: 1, template: o, stopAtFirstViolation: true)
        let v = summary.violations.first
        #expect(v != nil, "\(bug.rawValue) went unnoticed for 2,000 seeds")
        if let v {
            #expect(invariants.contains(v.invariant), "\(v)")
            // The report names the seed, and the seed replays the same violation.
            var replay = o
            replay.seed = v.seed
            if case .failure(let again) = Simulation(options: replay).run() {
                #expect(again.step == v.step && again.detail == v.detail)
            } else {
                Issue.record("seed \(v.seed) did not reproduce its violation")
            }
        }
    }

    @Test func oneSeedReproducesARunExactly() {
        var o = SimulationOptions()
        o.seed = 77
        o.groups = 2
        guard case .success(let a) = Simulation(options: o).run(), case .success(let b) = Simulation(options: o).run() else {
            Issue.record("seed 77 reported a violation")
            return
        }
        #expect(a.steps == b.steps && a.messagesDelivered == b.messagesDelivered && a.writesAcked == b.writesAcked)
        o.seed = 78
        if case .success(let c) = Simulation(options: o).run() { #expect(c.steps != a.steps) }
    }
}
