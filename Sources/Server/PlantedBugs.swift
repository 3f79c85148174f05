import MultiRaft

/// Deliberate bugs for the fault-injection suite (`scripts/fault-test --plant-bug NAME`), to show
/// that its checks catch them. Reachable only through the hidden `--unsafe-planted-bug` flag:
/// never from the config file, `MYSTORE_*` variables or `--set`. A node with any of them is
/// not safe and says so loudly at startup.
struct PlantedBugs: Sendable, Hashable {
    /// Failpoints of the Raft core (e.g. `stale-read`: reads answered without confirming leadership).
    var raft: Set<PlantedBug> = []
    /// `skip-wal`: the WAL writes a group's creation but drops every later write, so the node
    /// acknowledges appends and votes it never made durable.
    var skipWAL = false
    /// `moved-after-append`: the router forgets that a write may be in a Raft log, so a write
    /// whose leader stepped down is answered -MOVED or -TRYAGAIN ("not executed") though it
    /// may have been applied (the behaviour before writes tracked their appends).
    var movedAfterAppend = false

    static let skipWALName = "skip-wal"
    static let movedAfterAppendName = "moved-after-append"
    static var names: [String] { PlantedBug.allCases.map(\.rawValue) + [skipWALName, movedAfterAppendName] }

    init() {}

    init(names: [String]) throws(StartupError) {
        if !names.isEmpty && !PlantedBug.compiledIn {
            throw StartupError("--unsafe-planted-bug: this build has no planted bugs (they are compiled only into debug builds and scripts/fault-test's build)")
        }
        for name in names {
            if name == Self.skipWALName {
                skipWAL = true
            } else if name == Self.movedAfterAppendName {
                movedAfterAppend = true
            } else if let bug = PlantedBug(rawValue: name) {
                raft.insert(bug)
            } else {
                throw StartupError("--unsafe-planted-bug: unknown bug '\(name)' (known: \(Self.names.joined(separator: ", ")))")
            }
        }
    }

    var isEmpty: Bool { raft.isEmpty && !skipWAL && !movedAfterAppend }

    var warning: String {
        let list = (raft.map(\.rawValue).sorted() + (skipWAL ? [Self.skipWALName] : []) + (movedAfterAppend ? [Self.movedAfterAppendName] : []))
            .joined(separator: ", ")
        return "mystore-server: WARNING: PLANTED BUGS ENABLED (\(list)). This node breaks consistency on purpose, for fault testing only. NEVER use it for real data."
    }
}
