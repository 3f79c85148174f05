import MultiRaft
import Testing
@testable import Server

@Suite("Planted bugs (fault testing only)")
struct PlantedBugsTests {
    // The hooks are compiled into this (debug) build, or every planted-bug test below and in
    // the simulator and fault suites would pass without testing anything. A release build has
    // none, and refuses the flag (checked by hand: `mystore-server --unsafe-planted-bug ...`
    // from `swift build -c release` fails at startup).
    @Test func compiledIntoTestBuilds() {
        #expect(PlantedBug.compiledIn)
    }

    @Test func namesParse() throws {
        let bugs = try PlantedBugs(names: ["stale-read", "skip-wal"])
        #expect(bugs.raft == [.staleRead])
        #expect(bugs.skipWAL)
        #expect(bugs.warning.contains("PLANTED BUGS ENABLED"))
        #expect(try PlantedBugs(names: []).isEmpty)
        #expect(throws: StartupError.self) { try PlantedBugs(names: ["no-such-bug"]) }
    }

    @Test func unreachableFromConfigEnvironmentAndSet() {
        // No config key names a planted bug, so neither the file, MYSTORE_* nor --set can turn one on.
        for key in NodeConfig.settings.map(\.key) {
            #expect(!key.contains("planted") && !key.contains("bug") && !key.contains("skip"))
        }
        #expect(throws: (any Error).self) {
            try NodeConfig.load(file: ("planted_bug = stale-read\n", "x.conf"), environment: [:], overrides: [])
        }
        #expect(throws: (any Error).self) { try NodeConfig.load(file: nil, environment: [:], overrides: ["unsafe_planted_bug=skip-wal"]) }
        let fromEnv = try? NodeConfig.load(file: nil, environment: ["MYSTORE_UNSAFE_PLANTED_BUG": "skip-wal"], overrides: [])
        #expect(fromEnv == NodeConfig())
    }
}
