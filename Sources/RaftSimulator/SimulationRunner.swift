import MultiRaft

/// Runs many seeds and aggregates the outcome.
public struct SimulationRunner {
    public struct Summary: Sendable {
        public var seeds = 0
        public var violations: [Violation] = []
        public var stats = SimulationStats()
    }

    public static func run(seeds: Int, firstSeed: UInt64, template: SimulationOptions,
                           stopAtFirstViolation: Bool = false,
                           onViolation: (Violation) -> Void = { _ in }) -> Summary {
        var summary = Summary()
        for k in 0..<seeds {
            var o = template
            o.seed = firstSeed &+ UInt64(k)
            summary.seeds += 1
            switch Simulation(options: o).run() {
            case .success(let s):
                summary.stats.add(s)
            case .failure(let v):
                summary.violations.append(v)
                onViolation(v)
                if stopAtFirstViolation { return summary }
            }
        }
        return summary
    }
}
