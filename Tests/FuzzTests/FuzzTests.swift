import Foundation
import Testing

/// Seeded random-mutation fuzzing of every decoder of outside input. By default a short run
/// (a few thousand inputs per decoder); `scripts/fuzz TARGET RUNS [SEED]` sets
/// MYSTORE_FUZZ_TARGET / MYSTORE_FUZZ_RUNS / MYSTORE_FUZZ_SEED for long runs.
@Suite("Fuzzing decoders", .serialized)
struct FuzzTests {
    static let environment = ProcessInfo.processInfo.environment
    static let runs = environment["MYSTORE_FUZZ_RUNS"].flatMap(Int.init) ?? 3000
    static let seed = environment["MYSTORE_FUZZ_SEED"].flatMap(UInt64.init) ?? 1
    static let only = environment["MYSTORE_FUZZ_TARGET"]

    @Test(arguments: FuzzTarget.all.map(\.name))
    func decoderSurvivesMutatedInput(name: String) throws {
        guard Self.only == nil || Self.only == name else { return }
        let target = try #require(FuzzTarget.named(name))
        let report = target.run(runs: Self.runs, seed: Self.seed)
        try? FileManager.default.removeItem(atPath: scratchRoot)
        print("fuzz \(name): \(report.inputs) inputs (seed \(Self.seed)), \(report.accepted) accepted, "
              + String(format: "%.1f s, slowest input #%d took %.1f ms", report.seconds, report.slowestInput, report.slowestSeconds * 1000))
        // A decoder that needs a second for one small input is as bad as a hang.
        #expect(report.slowestSeconds < 1, "input #\(report.slowestInput) of seed \(Self.seed) took \(report.slowestSeconds) s")
    }

    @Test func knownTargetSelected() {
        if let only = Self.only { #expect(FuzzTarget.named(only) != nil, "unknown fuzz target \(only)") }
    }
}
