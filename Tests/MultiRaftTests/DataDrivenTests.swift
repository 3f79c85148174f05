import Foundation
import Testing

/// Datadriven scenario tests of the Raft core: each file in testdata/ is a specification
/// written as steps (commands of `RaftScenarioEnv`), each followed by the messages exchanged
/// and the state expected after it. A step whose output differs fails with a diff.
///
/// To regenerate the expected outputs after a deliberate change of behaviour, run
///
///     MYSTORE_REWRITE_TESTDATA=1 swift test --filter DataDriven
///
/// and read the diff of testdata/ before committing it: every changed line is a changed
/// behaviour.
@Suite struct DataDrivenTests {
    static let files = [
        "elections.txt",
        "prevote.txt",
        "log_repair.txt",
        "read_index.txt",
        "leader_transfer.txt",
        "joint_config.txt",
    ]

    static let testdata = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("testdata")

    static var rewriting: Bool { ProcessInfo.processInfo.environment["MYSTORE_REWRITE_TESTDATA"] == "1" }

    @Test(arguments: files)
    func scenario(_ name: String) throws {
        let url = Self.testdata.appendingPathComponent(name)
        let text = try String(contentsOf: url, encoding: .utf8)
        var env = RaftScenarioEnv()
        let result = try DataDriven.run(text, file: "testdata/\(name)") { try env.execute($0) }
        #expect(result.steps > 0, "no steps in testdata/\(name)")
        for e in result.errors { Issue.record(Comment(rawValue: e.description)) }
        if Self.rewriting {
            if result.rewritten != text { try result.rewritten.write(to: url, atomically: true, encoding: .utf8) }
        } else {
            for m in result.mismatches where !result.errors.contains(where: { $0.step.line == m.step.line }) {
                Issue.record(Comment(rawValue: m.description))
            }
        }
    }

    /// Every file in testdata/ is run: none is forgotten in `files`.
    @Test func everyTestdataFileIsListed() throws {
        let present = try FileManager.default.contentsOfDirectory(atPath: Self.testdata.path).filter { $0.hasSuffix(".txt") }
        #expect(present.sorted() == Self.files.sorted())
    }

    /// The harness can fail: a wrong expected output is reported as a mismatch naming the file,
    /// the line and the step, with both outputs and a diff; the right one is not.
    @Test func wrongExpectedOutputIsReported() throws {
        let step = DataDriven.Step(line: 7, command: "status 1", expected: "1: leader term=9\nsame line")
        let mismatch = try #require(DataDriven.compare(file: "inline.txt", step: step, actual: "1: follower term=1\nsame line"))
        #expect(mismatch.description.contains("inline.txt:7: output of `status 1` differs"))
        #expect(mismatch.description.contains("- 1: leader term=9"))
        #expect(mismatch.description.contains("+ 1: follower term=1"))
        #expect(mismatch.description.contains("  same line"))
        #expect(DataDriven.lineDiff(expected: "a\nb\nc", actual: "a\nx\nc") == "  a\n- b\n+ x\n  c")
        #expect(DataDriven.compare(file: "inline.txt", step: step, actual: "1: leader term=9\nsame line  \n") == nil)
        #expect(DataDriven.compare(file: "inline.txt", step: DataDriven.Step(line: 1, command: "heal", expected: "ok"), actual: "") == nil)
    }

    /// The same through a whole script run on real replicas: one step's expected output is
    /// wrong (the replica is a follower at term 1, not a leader), and only that step fails.
    @Test func wrongStepInScriptIsReported() throws {
        let script = """
            # A single founding replica.
            add-nodes 1
            ----
            1: follower term=1 vote=0 leader=0 commit=1 applied=1 last=1 voters=(1)

            # Deliberately wrong:
            status 1
            ----
            1: leader term=9 vote=1 commit=1 applied=1 last=1 voters=(1)

            """
        var env = RaftScenarioEnv()
        let result = try DataDriven.run(script, file: "inline.txt") { try env.execute($0) }
        #expect(result.steps == 2)
        #expect(result.errors.isEmpty)
        #expect(result.mismatches.count == 1)
        let m = try #require(result.mismatches.first)
        #expect(m.step.line == 7)
        #expect(m.step.command == "status 1")
        #expect(m.actual == "1: follower term=1 vote=0 leader=0 commit=1 applied=1 last=1 voters=(1)")
        // The rewritten script is the corrected one, and it passes.
        var again = RaftScenarioEnv()
        let fixed = try DataDriven.run(result.rewritten, file: "inline.txt") { try again.execute($0) }
        #expect(fixed.mismatches.isEmpty)
        #expect(fixed.rewritten == result.rewritten)
    }

    /// A command that cannot run is an error, not an output to record.
    @Test func unknownCommandIsAnError() throws {
        var env = RaftScenarioEnv()
        let result = try DataDriven.run("frobnicate 1\n----\nok\n", file: "inline.txt") { try env.execute($0) }
        #expect(result.errors.count == 1)
        #expect(throws: DataDriven.ParseError.self) { try DataDriven.parse("campaign 1\nok\n", file: "inline.txt") }
    }
}
