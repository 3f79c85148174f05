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
    /// Replays one input: generates the run's inputs but decodes only this one.
    static let input = environment["MYSTORE_FUZZ_INPUT"].flatMap(Int.init)

    @Test(arguments: FuzzTarget.all.map(\.name))
    func decoderSurvivesMutatedInput(name: String) throws {
        guard Self.only == nil || Self.only == name else { return }
        let target = try #require(FuzzTarget.named(name))
        let report = target.run(runs: Self.input.map { max(Self.runs, $0 + 1) } ?? Self.runs, seed: Self.seed, only: Self.input)
        try? FileManager.default.removeItem(atPath: scratchRoot)
        print("fuzz \(name): \(report.inputs) inputs (seed \(Self.seed)), \(report.accepted) accepted, "
              + String(format: "%.1f s, slowest input #%d took %.1f ms", report.seconds, report.slowestInput, report.slowestSeconds * 1000))
        // Inputs are at most 64 KiB: seconds for one of them is a hang (the bound leaves room for
        // a machine busy with other builds, where a 64 MiB chunk allocation can take a second).
        #expect(report.slowestSeconds < 5, "input #\(report.slowestInput) of seed \(Self.seed) took \(report.slowestSeconds) s")
    }

    @Test func knownTargetSelected() {
        if let only = Self.only { #expect(FuzzTarget.named(only) != nil, "unknown fuzz target \(only)") }
    }
}
