import Testing
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
@testable import MultiRaft
import SystemClock

/// A state machine for host tests: an append-only list of distinct strings. A string already
/// in the list is not added again, so a test may retry a proposal whose outcome it did not
/// learn (leadership changed after the append) without applying it twice.
final class ListMachine: GroupStateMachine {
    var items: [String] = []
    func apply(index: LogIndex, data: [UInt8]) -> any Sendable {
        let item = String(decoding: data, as: UTF8.self)
        if !items.contains(item) { items.append(item) }
        return items.count
    }
    func writeSnapshot(to sink: ([UInt8]) throws -> Void) throws {
        var w = BinaryWriter()
        w.write(UInt32(items.count))
        for i in items { w.writeBlob(Array(i.utf8)) }
        try sink(w.bytes)
    }
    func restore(from source: () throws -> [UInt8]?) throws {
        var all: [UInt8] = []
        while let c = try source() { all += c }
        var r = BinaryReader(all)
        items = try (0..<r.readUInt32()).map { _ in String(decoding: try r.readBlob(), as: UTF8.self) }
    }
}

/// A state machine holding a large fixed state besides its list: counts the snapshots taken.
final class BulkyMachine: GroupStateMachine, @unchecked Sendable {
    let bulk = [UInt8](repeating: 7, count: 256 << 10)
    var applied = 0
    let snapshots = Mutex(0)
    func apply(index: LogIndex, data: [UInt8]) -> any Sendable {
        applied += 1
        return applied
    }
    func writeSnapshot(to sink: ([UInt8]) throws -> Void) throws {
        snapshots.withLock { $0 += 1 }
        var w = BinaryWriter()
        w.write(UInt64(applied))
        try sink(w.bytes + bulk)
    }
    func restore(from source: () throws -> [UInt8]?) throws {
        var all: [UInt8] = []
        while let c = try source() { all += c }
        var r = BinaryReader(all)
        applied = Int(try r.readUInt64())
    }
}

/// Delivers batches straight into the destination host (asynchronously, like a network).
final class LoopbackTransport: RaftTransport, @unchecked Sendable {
    let hosts = Mutex<[NodeID: RaftHost]>([:])
    let down = Mutex<Set<NodeID>>([])
    func send(_ batch: [(group: GroupID, message: Message)], to node: NodeID) {
        guard !down.withLock({ $0.contains(node) }), let h = hosts.withLock({ $0[node] }) else { return }
        h.receive(batch)
    }
}

/// Runs a host on a serial dispatch queue instead of a thread of its own (the executor mode
/// a node uses to run its host on an event loop).
final class QueueExecutor: HostExecutor, @unchecked Sendable {
    let queue = DispatchQueue(label: "host-executor")
    private let key = DispatchSpecificKey<Bool>()
    init() { queue.setSpecific(key: key, value: true) }
    var inExecutor: Bool { DispatchQueue.getSpecific(key: key) == true }
    func execute(_ work: @escaping @Sendable () -> Void) { queue.async(execute: work) }
    func repeatEvery(milliseconds: Int, _ work: @escaping @Sendable () -> Void) -> @Sendable () -> Void {
        let timer = Box(DispatchSource.makeTimerSource(queue: queue))
        timer.value.schedule(deadline: .now() + .milliseconds(milliseconds), repeating: .milliseconds(milliseconds))
        timer.value.setEventHandler(handler: work)
        timer.value.resume()
        return { timer.value.cancel() }
    }
}

final class Box<T>: @unchecked Sendable { var value: T; init(_ v: T) { value = v } }

func waitFor(_ what: String, seconds: Double = 10, _ cond: () -> Bool) -> Bool {
    let deadline = monotonicSeconds() + seconds
    while monotonicSeconds() < deadline {
        if cond() { return true }
        usleep(20_000)
    }
    return false
}

/// How a host test runs its hosts: each on a thread of its own, on an executor's thread (real
/// time both), or on a `ManualExecutor` whose clock the test advances (no waiting for time).
enum HostMode: String, CaseIterable, CustomStringConvertible {
    case thread, executor, manualClock
    var description: String { rawValue }
}

/// The hosts of one test and the way to wait for them.
final class HostRig {
    let mode: HostMode
    let manual: ManualExecutor?
    init(_ mode: HostMode) {
        self.mode = mode
        manual = mode == .manualClock ? ManualExecutor() : nil
    }

    /// Waits until `cond` holds: real time, or pumping the manual executor and its clock.
    func waitFor(_ what: String, seconds: Double = 10, _ cond: () -> Bool) -> Bool {
        if let manual { return manual.run(until: cond, maxMillis: Int(seconds * 1000)) }
        return MultiRaftTests.waitFor(what, seconds: seconds, cond)
    }

    /// Runs `start` (which calls its completion with a result), waits for the result.
    func outcome<T: Sendable>(_ start: (@escaping @Sendable (T) -> Void) -> Void) -> T? {
        let result = Mutex<T?>(nil)
        start { r in result.withLock { $0 = r } }
        _ = waitFor("result", seconds: 30) { result.withLock { $0 != nil } }
        return result.withLock { $0 }
    }

    func propose(_ hosts: [RaftHost], _ group: GroupID, _ text: String) -> Bool {
        for _ in 0..<200 {
            for h in hosts where h.status(of: group)?.role == .leader {
                let ok = outcome { done in
                    h.propose(group, Array(text.utf8)) { r in
                        if case .success = r { done(true) } else { done(false) }
                    }
                }
                if ok == true { return true }
            }
            if let manual {
                _ = manual.run(until: { hosts.contains { $0.status(of: group)?.role == .leader } }, maxMillis: 20)
            } else {
                usleep(20_000)
            }
        }
        return false
    }
}

@Suite(.serialized) struct HostTests {
    func makeHost(_ node: NodeID, dir: TempDir, transport: LoopbackTransport, groups: [GroupID], snapshotEntries: UInt64 = 20_000,
                  rig: HostRig = HostRig(.thread)) throws -> (RaftHost, [GroupID: ListMachine]) {
        var s = HostSettings()
        s.tickMillis = 10
        s.snapshotEntries = snapshotEntries
        s.keepTrailingEntries = 5
        if let manual = rig.manual { s.clock = manual.now }
        let wal = try WriteAheadLog(settings: WALSettings(directory: dir.path + "/n\(node)/wal"))
        let host = RaftHost(node: node, settings: s, wal: wal, snapshotDirectory: dir.path + "/n\(node)/snap", transport: transport)
        switch rig.mode {
        case .thread: break
        case .executor: host.executor = QueueExecutor()
        case .manualClock: host.executor = rig.manual
        }
        var machines: [GroupID: ListMachine] = [:]
        for g in groups {
            let m = ListMachine()
            machines[g] = m
            try host.addGroup(g, replica: ReplicaID(node), stateMachine: m, nodeOf: [1: 1, 2: 2, 3: 3], bootstrapVoters: [1, 2, 3])
        }
        transport.hosts.withLock { $0[node] = host }
        return (host, machines)
    }

    func propose(_ hosts: [RaftHost], _ group: GroupID, _ text: String) -> Bool { HostRig(.thread).propose(hosts, group, text) }

    /// Every way of running a host: a thread of its own, an executor's thread, and an executor
    /// the test drives with a manual clock.
    @Test(arguments: HostMode.allCases) func threeHostsElectCommitReadAndRecover(mode: HostMode) throws {
        let dir = TempDir("host")
        defer { dir.cleanup() }
        let t = LoopbackTransport()
        let rig = HostRig(mode)
        var hosts: [RaftHost] = []
        for n: NodeID in 1...3 { hosts.append(try makeHost(n, dir: dir, transport: t, groups: [1, 2], snapshotEntries: 30, rig: rig).0) }
        hosts.forEach { $0.start() }
        for g: GroupID in [1, 2] {
            #expect(rig.waitFor("leader") { hosts.contains { $0.status(of: g)?.role == .leader } })
        }
        for i in 0..<100 { #expect(rig.propose(hosts, 1, "a\(i)")) }
        #expect(rig.propose(hosts, 2, "b"))
        // A linearizable read through a follower.
        let follower = hosts.first { $0.status(of: 1)?.role == .follower }!
        let count = rig.outcome { (done: @escaping @Sendable (Int) -> Void) in
            follower.read(1, { sm in (sm as! ListMachine).items.count }) { r in
                if case .success(let v) = r { done(v as! Int) } else { done(-1) }
            }
        }
        #expect(count == 100)
        // Snapshots were taken and the WAL compacted.
        #expect(hosts.allSatisfy { ($0.status(of: 1)?.appliedIndex ?? 0) >= 100 })
        // The activity counters saw the work (published every tick): rounds with readies, and
        // every replica sent appends or acknowledgements.
        #expect(rig.waitFor("activity") {
            hosts.allSatisfy { h in
                let a = h.activitySnapshot()
                let appends = a.messagesSent[Int(Message.Kind.append.rawValue)] + a.messagesSent[Int(Message.Kind.appendResponse.rawValue)]
                return a.rounds > 0 && a.readies >= a.rounds && appends > 0 && a.batchesSent > 0 && a.messagesReceived > 0
            }
        })
        hosts.forEach { $0.stop() }
        // Restart everything from disk.
        var machines: [[GroupID: ListMachine]] = []
        hosts = []
        for n: NodeID in 1...3 {
            let (h, m) = try makeHost(n, dir: dir, transport: t, groups: [1, 2], snapshotEntries: 30, rig: rig)
            hosts.append(h)
            machines.append(m)
        }
        hosts.forEach { $0.start() }
        #expect(rig.waitFor("replay") { machines.allSatisfy { $0[1]!.items.count == 100 && $0[2]!.items.count == 1 } })
        #expect(machines[0][1]!.items.suffix(2) == ["a98", "a99"])
        #expect(rig.propose(hosts, 1, "after restart"))
        hosts.forEach { $0.stop() }
    }

    @Test(arguments: HostMode.allCases) func laggingHostCatchesUpThroughSnapshot(mode: HostMode) throws {
        let dir = TempDir("host-snap")
        defer { dir.cleanup() }
        let t = LoopbackTransport()
        let rig = HostRig(mode)
        var hosts: [RaftHost] = []
        var machines: [[GroupID: ListMachine]] = []
        for n: NodeID in 1...3 {
            let (h, m) = try makeHost(n, dir: dir, transport: t, groups: [7], snapshotEntries: 20, rig: rig)
            hosts.append(h)
            machines.append(m)
        }
        t.down.withLock { $0 = [3] }
        hosts[0].start(); hosts[1].start()
        for i in 0..<80 { #expect(rig.propose(Array(hosts[0...1]), 7, "x\(i)")) }
        t.down.withLock { $0 = [] }
        hosts[2].start()
        #expect(rig.waitFor("catch up", seconds: 30) { machines[2][7]!.items.count == 80 })
        #expect(machines[2][7]!.items == machines[0][7]!.items)
        hosts.forEach { $0.stop() }
    }

    // Time is the host's clock: with a manual one, elections take the ticks they should, and a
    // proposal that cannot commit fails with `.timeout` exactly when its deadline passes on
    // that clock, however long the test itself takes.
    @Test func ticksAndDeadlinesFollowTheInjectedClock() throws {
        let dir = TempDir("host-clock")
        defer { dir.cleanup() }
        let t = LoopbackTransport()
        let rig = HostRig(.manualClock)
        let manual = rig.manual!
        var hosts: [RaftHost] = []
        for n: NodeID in 1...3 { hosts.append(try makeHost(n, dir: dir, transport: t, groups: [1], rig: rig).0) }
        hosts.forEach { $0.start() }
        let settings = hosts[0].settings
        // Nobody campaigns before an election timeout has passed on the clock.
        manual.advance(milliseconds: settings.tickMillis * (settings.raft.electionTicks - 1))
        #expect(hosts.allSatisfy { $0.status(of: 1)?.role == .follower })
        #expect(rig.waitFor("leader") { hosts.contains { $0.status(of: 1)?.role == .leader } })
        // Randomized timeouts lie in [electionTicks, 2 * electionTicks); a pre-vote and a vote
        // round add a few ticks of waiting for the WAL.
        #expect(manual.elapsed <= Double(settings.tickMillis * (3 * settings.raft.electionTicks)) / 1000, "\(manual.elapsed) s")
        #expect(rig.propose(hosts, 1, "committed"))
        // Cut the leader off: a proposal it accepts can never commit.
        let leader = hosts.first { $0.status(of: 1)?.role == .leader }!
        t.down.withLock { $0 = Set(hosts.map(\.node)).subtracting([leader.node]) }
        let result = Mutex<Result<any Sendable, HostError>?>(nil)
        // (Within the check-quorum window: a leader cut off for an election timeout steps down,
        // and its proposals then fail as of unknown outcome.)
        leader.propose(1, Array("never committed".utf8), timeoutMillis: 50) { r in result.withLock { $0 = r } }
        manual.drain()
        manual.advance(milliseconds: 40)
        #expect(result.withLock { $0 == nil }, "the proposal failed before its deadline")
        manual.advance(milliseconds: 20)
        let outcome = result.withLock { $0 }
        guard case .failure(.timeout) = outcome else {
            Issue.record("expected .timeout at the deadline, got \(String(describing: outcome))")
            return
        }
        hosts.forEach { $0.stop() }
    }

    // A snapshot rewrites the whole state: once a group's state is large, the entry count alone
    // no longer triggers one; the entries since the last must also amount to the state's size.
    @Test func largeStateIsNotSnapshottedForEveryFewSmallEntries() throws {
        for percent: UInt64 in [100, 0] {
            let dir = TempDir("host-bulky")
            defer { dir.cleanup() }
            let rig = HostRig(.manualClock)
            var s = HostSettings()
            s.tickMillis = 10
            s.snapshotEntries = 10
            s.keepTrailingEntries = 5
            s.snapshotLogStatePercent = percent
            s.clock = rig.manual!.now
            let wal = try WriteAheadLog(settings: WALSettings(directory: dir.path + "/wal"))
            let host = RaftHost(node: 1, settings: s, wal: wal, snapshotDirectory: dir.path + "/snap", transport: LoopbackTransport())
            host.executor = rig.manual
            let machine = BulkyMachine()
            try host.addGroup(1, replica: 1, stateMachine: machine, nodeOf: [1: 1], bootstrapVoters: [1])
            host.start()
            #expect(rig.waitFor("leader") { host.status(of: 1)?.role == .leader })
            for i in 0..<60 { #expect(rig.propose([host], 1, "small write \(i)")) }
            #expect(rig.waitFor("applied") { (host.status(of: 1)?.appliedIndex ?? 0) >= 61 })
            // Every snapshot due is written: none is being written, and none waits for a turn
            // over a few more ticks (the passes run on this thread, so reading the host's
            // counter between them is safe).
            #expect(rig.waitFor("snapshots written") { host.snapshotWrites == 0 })
            rig.manual!.advance(milliseconds: 100)
            #expect(rig.waitFor("snapshots written") { host.snapshotWrites == 0 })
            host.stop()
            let taken = machine.snapshots.withLock { $0 }
            if percent == 100 {
                // The first snapshot (nothing known of the state yet), then 60 entries of a few
                // bytes never add up to the 256 KiB state.
                #expect(taken == 1, "\(taken) snapshots")
            } else {
                #expect(taken >= 4, "\(taken) snapshots with the entry count alone")
            }
        }
    }

    // The WAL is written on its own thread: a leader whose fdatasync stalls still commits and
    // answers on its two followers' acknowledgements (Raft thesis §10.2.1), and other groups on
    // the node keep working; what it sends that must follow its own write (a follower's
    // acknowledgement) waits for it.
    @Test func leaderCommitsOnFollowersWhileItsOwnDiskStalls() throws {
        let dir = TempDir("host-stall")
        defer { dir.cleanup() }
        let t = LoopbackTransport()
        let stalled = Mutex<NodeID>(0)
        // fdatasyncs each node's writer finished (counted once its stall, if any, is over).
        let syncsDone = Mutex<[NodeID: Int]>([:])
        var hosts: [RaftHost] = []
        for n: NodeID in 1...3 {
            let h = try makeHost(n, dir: dir, transport: t, groups: [1]).0
            h.wal.onSync = { _, _ in
                while stalled.withLock({ $0 == n }) { usleep(1_000) }
                syncsDone.withLock { $0[n, default: 0] += 1 }
            }
            hosts.append(h)
        }
        hosts.forEach { $0.start() }
        #expect(waitFor("leader") { hosts.contains { $0.status(of: 1)?.role == .leader } })
        #expect(propose(hosts, 1, "before"))
        let leader = try #require(hosts.first { $0.status(of: 1)?.role == .leader })
        stalled.withLock { $0 = leader.node }
        defer { stalled.withLock { $0 = 0 } }
        // A sync already past its stall check finishes now; every later one on the leader
        // stalls until the end of the test, whenever its writer gets to it (on a busy machine
        // the answer may even come before the writer starts the write).
        usleep(20_000)
        let syncedBefore = syncsDone.withLock { $0[leader.node, default: 0] }
        let done = DispatchSemaphore(value: 0)
        let result = Box<Int?>(nil)
        leader.propose(1, Array("during the stall".utf8)) { r in
            if case .success(let v) = r { result.value = v as? Int }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 5) == .success, "the proposal waited for the leader's own fdatasync")
        #expect(result.value == 2)
        #expect(syncsDone.withLock { $0[leader.node, default: 0] } == syncedBefore,
                "the leader finished an fdatasync before the write was answered")
        stalled.withLock { $0 = 0 }
        // The leader's own write of the entry was held back, not skipped: it completes now.
        #expect(waitFor("the leader's stalled sync") { syncsDone.withLock { $0[leader.node, default: 0] } > syncedBefore })
        #expect(propose(hosts, 1, "after"))
        hosts.forEach { $0.stop() }
    }
}
