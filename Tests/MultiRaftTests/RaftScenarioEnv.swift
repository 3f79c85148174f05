@testable import MultiRaft

/// Replicas of one Raft group in memory, driven one command at a time from the datadriven
/// files in testdata/ (see DataDrivenTests). Each command returns the text the file expects:
/// every Ready handled (what is persisted, applied and sent), every message delivered, and the
/// replicas' state. Storage is synchronous: a Ready's writes are durable as soon as it is
/// handled, so all its messages are sent at once.
///
/// Output: `> N handling Ready` lists what replica N's Ready asks to persist (SoftState,
/// HardState, Entries), apply (CommittedEntries) and send (Messages, grouped by recipient in
/// sending order), and any ReadStates; `[N applied configuration ...]` follows when applying
/// changed N's membership. `> N receiving messages` lists the deliveries to N, a message on a
/// cut link marked DROPPED; `[...]` after a message notes the role, term or leader change it
/// caused. Messages print as `from->to kind field=value ...` (the fields that matter for the
/// kind, then any other field set), entries as `term/index kind payload`. A run of identical
/// lines is printed once with `(N times)`.
///
/// Commands (ids are replica ids; `[...]` is optional):
///
///     add-nodes 1 2 3 [join] [prevote=true] [checkquorum=true] [election=10] [heartbeat=1] [seed=1]
///         New replicas. Without `join` they found a group whose voters are the ids listed
///         (term 1, the configuration at indexes 1...n, committed and applied); with `join` they
///         start empty and learn everything from a leader.
///     campaign 1                  the election timer of 1 fires now
///     tick 1 [times=N]            logical clock ticks on 1
///     tick-election 1             ticks 1 until its election timer fires (leader: the check-quorum timer)
///     tick-heartbeat 1            ticks leader 1 until it sends heartbeats
///     process-ready 1 [2 ...]     handles one Ready of each replica
///     deliver [1 2 ...]           delivers the messages waiting for those replicas (default all)
///     stabilize [1 2 ...]         handles Readies and delivers messages until nothing moves
///                                 (only those replicas' Readies and inboxes, when ids are given)
///     propose 1 data              proposes application data at 1
///     propose-conf-change 1 v4 l5 r3 [transition=auto|implicit|explicit]
///                                 v = add voter, l = add learner, r = remove; `leave` leaves a joint config
///     read-index 1 ctx            asks 1 for a linearizable read with context ctx
///     transfer-leader from=1 to=2 asks 1 to hand leadership to 2
///     isolate 3 / heal            cuts every link to and from 3 / restores all links
///     status [1 2 ...]            role, term, vote, leader, indexes, configuration; a leader's progress
///     raft-log 1                  the entries of 1's log
struct RaftScenarioEnv {
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    var replicas: [ReplicaID: RaftReplica] = [:]
    /// Messages sent and not yet delivered, per recipient, in the order they were sent.
    var inbox: [ReplicaID: [Message]] = [:]
    /// Directed links that lose every message, as [from, to].
    var cut: Set<[ReplicaID]> = []

    private var out: [String] = []
    private var indent = ""

    mutating func execute(_ line: String) throws -> String {
        let cmd = DataDrivenCommand(line)
        out = []
        indent = ""
        switch cmd.name {
        case "add-nodes": try addNodes(cmd)
        case "campaign":
            for id in try ids(cmd, atLeast: 1) {
                replicas[id]!.campaign(preVote: replicas[id]!.settings.preVote, transfer: false)
                status(id)
            }
        case "tick":
            let times = try int(cmd, "times") ?? 1
            for id in try ids(cmd, atLeast: 1) {
                for _ in 0..<times { replicas[id]!.tick() }
                status(id)
            }
        case "tick-election":
            for id in try ids(cmd, atLeast: 1) {
                let r = replicas[id]!
                let n = r.role == .leader ? r.settings.electionTicks - r.electionElapsed : r.randomizedElectionTimeout - r.electionElapsed
                for _ in 0..<max(1, n) { replicas[id]!.tick() }
                emit("\(id) ticked \(max(1, n)) times")
                status(id)
            }
        case "tick-heartbeat":
            for id in try ids(cmd, atLeast: 1) {
                let r = replicas[id]!
                let n = max(1, r.settings.heartbeatTicks - r.heartbeatElapsed)
                for _ in 0..<n { replicas[id]!.tick() }
                status(id)
            }
        case "process-ready":
            for id in try ids(cmd, atLeast: 1) {
                if replicas[id]!.hasReady { processReady(id) } else { emit("> \(id) has no Ready") }
            }
        case "deliver":
            let targets = try ids(cmd, atLeast: 0)
            for id in inbox.keys.sorted() where targets.isEmpty || targets.contains(id) { deliver(to: id) }
        case "stabilize": try stabilize(try ids(cmd, atLeast: 0))
        case "propose":
            guard cmd.positional.count == 2 else { throw Failure("usage: propose <id> <data>") }
            let id = try replica(cmd.positional[0])
            result(replicas[id]!.propose(Array(cmd.positional[1].utf8)))
        case "propose-conf-change":
            guard let first = cmd.positional.first else { throw Failure("usage: propose-conf-change <id> v4 l5 r3 | leave") }
            let id = try replica(first)
            result(replicas[id]!.proposeConfChange(try confChange(cmd)))
        case "read-index":
            guard cmd.positional.count == 2 else { throw Failure("usage: read-index <id> <context>") }
            let id = try replica(cmd.positional[0])
            result(replicas[id]!.readIndex(Array(cmd.positional[1].utf8)))
        case "transfer-leader":
            guard let f = cmd.args["from"], let t = cmd.args["to"] else { throw Failure("usage: transfer-leader from=<id> to=<id>") }
            let from = try replica(f), to = try Self.parseID(t)
            replicas[from]!.transferLeadership(to: to)
            status(from)
        case "isolate":
            for id in try ids(cmd, atLeast: 1) {
                for other in replicas.keys where other != id {
                    cut.insert([id, other])
                    cut.insert([other, id])
                }
            }
        case "heal": cut = []
        case "status":
            let targets = try ids(cmd, atLeast: 0)
            for id in targets.isEmpty ? replicas.keys.sorted() : targets { status(id) }
        case "raft-log":
            for id in try ids(cmd, atLeast: 1) {
                let r = replicas[id]!
                let entries = r.entries(from: r.firstIndex, through: r.lastIndex)
                if entries.isEmpty { emit("\(id): empty log") }
                for e in entries { emit(Self.describe(e)) }
            }
        default:
            throw Failure("unknown command `\(cmd.name)`")
        }
        return Self.collapse(out).joined(separator: "\n")
    }

    /// Runs of identical lines (a leader's heartbeats while it is cut off) become one line
    /// with a count: `1->2 heartbeat term=2 commit=5 (10 times)`.
    static func collapse(_ lines: [String]) -> [String] {
        var result: [String] = []
        var i = 0
        while i < lines.count {
            var j = i + 1
            while j < lines.count && lines[j] == lines[i] { j += 1 }
            result.append(j - i == 1 ? lines[i] : "\(lines[i]) (\(j - i) times)")
            i = j
        }
        return result
    }

    // MARK: - Commands

    private mutating func addNodes(_ cmd: DataDrivenCommand) throws {
        let join = cmd.positional.contains("join")
        let newIDs = try cmd.positional.filter { $0 != "join" }.map { try Self.parseID($0) }
        guard !newIDs.isEmpty else { throw Failure("add-nodes needs ids") }
        for id in newIDs {
            guard replicas[id] == nil, id != 0 else { throw Failure("replica \(id) exists already or is 0") }
            var s = RaftSettings(id: id)
            s.preVote = try bool(cmd, "prevote") ?? s.preVote
            s.checkQuorum = try bool(cmd, "checkquorum") ?? s.checkQuorum
            s.electionTicks = try int(cmd, "election") ?? s.electionTicks
            s.heartbeatTicks = try int(cmd, "heartbeat") ?? s.heartbeatTicks
            let seed = try Self.parseNumber(cmd.args["seed"] ?? "1")
            var r = RaftReplica(settings: s, state: join ? PersistedState() : .bootstrap(voters: newIDs), randomSeed: seed)
            if r.hasReady {
                // The founding configuration entries are committed from the start: apply them.
                let rd = r.ready()
                guard rd.messages.isEmpty && rd.messagesAfterWrite.isEmpty else { throw Failure("bootstrap Ready sent messages") }
                r.advance(rd)
                r.persisted(rd.durableMark)
            }
            replicas[id] = r
            status(id)
        }
    }

    private mutating func stabilize(_ only: [ReplicaID]) throws {
        let nodes = only.isEmpty ? replicas.keys.sorted() : only
        for _ in 0..<1_000 {
            var done = true
            for id in nodes where replicas[id]!.hasReady {
                processReady(id)
                done = false
            }
            for id in inbox.keys.sorted() where only.isEmpty || only.contains(id) {
                if deliver(to: id) { done = false }
            }
            if done { return }
        }
        throw Failure("no fixed point after 1,000 rounds")
    }

    /// Handles one Ready the way a host does: persist, send, apply, advance, report durable.
    private mutating func processReady(_ id: ReplicaID) {
        var r = replicas[id]!
        let configBefore = r.configuration
        let rd = r.ready()
        emit("> \(id) handling Ready")
        indent = "  "
        if rd.isEmpty { emit("(empty Ready)") }
        if let ss = rd.softState { emit("SoftState role=\(ss.role) leader=\(ss.leader)") }
        if let hs = rd.hardState { emit("HardState term=\(hs.term) vote=\(hs.vote) commit=\(hs.commit)") }
        if let snap = rd.snapshot {
            emit("Snapshot index=\(snap.metadata.index) term=\(snap.metadata.term) \(Self.describe(snap.metadata.configuration))")
        }
        if !rd.entries.isEmpty {
            emit("Entries:")
            for e in rd.entries { emit(Self.describe(e)) }
        }
        if !rd.committedEntries.isEmpty {
            emit("CommittedEntries:")
            for e in rd.committedEntries { emit(Self.describe(e)) }
        }
        // Grouped by recipient: only the order of the messages to one replica is meaningful
        // (each link is FIFO), so a change in the core's order across recipients is no failure.
        let messages = (rd.messages + rd.messagesAfterWrite).enumerated()
            .sorted { ($0.element.to, $0.offset) < ($1.element.to, $1.offset) }.map(\.element)
        if !messages.isEmpty {
            emit("Messages:")
            for m in messages { emit(Self.describe(m)) }
        }
        if !rd.readStates.isEmpty {
            emit("ReadStates:")
            for rs in rd.readStates { emit("index=\(rs.index) context=\(Self.quoted(rs.context))") }
        }
        r.advance(rd)
        r.persisted(rd.durableMark)
        if r.configuration != configBefore { emit("[\(id) applied configuration \(Self.describe(r.configuration))]") }
        indent = ""
        replicas[id] = r
        for m in messages { inbox[m.to, default: []].append(m) }
    }

    /// Delivers the messages waiting for `id`; returns whether there were any.
    @discardableResult
    private mutating func deliver(to id: ReplicaID) -> Bool {
        let batch = inbox[id] ?? []
        inbox[id] = nil
        guard !batch.isEmpty else { return false }
        emit("> \(id) receiving messages")
        indent = "  "
        for m in batch {
            guard replicas[id] != nil else {
                emit("\(Self.describe(m)) DROPPED (no replica \(id))")
                continue
            }
            if cut.contains([m.from, m.to]) {
                emit("\(Self.describe(m)) DROPPED (link \(m.from)->\(m.to) cut)")
                continue
            }
            emit(Self.describe(m))
            let before = replicas[id]!
            replicas[id]!.step(m)
            let after = replicas[id]!
            if before.role != after.role {
                let led = after.role == .follower && after.leader != 0 ? ", leader \(after.leader)" : ""
                emit("[\(id) became \(after.role) at term \(after.term)\(led)]")
            } else if before.term != after.term {
                emit("[\(id) moved to term \(after.term)\(after.leader != 0 ? ", leader \(after.leader)" : "")]")
            } else if before.leader != after.leader {
                emit(after.leader == 0 ? "[\(id) forgot leader \(before.leader)]" : "[\(id) learned leader \(after.leader)]")
            }
        }
        indent = ""
        return true
    }

    private mutating func status(_ id: ReplicaID) {
        let r = replicas[id]!
        var s = "\(id): \(r.role) term=\(r.term) vote=\(r.vote)"
        if r.role != .leader { s += " leader=\(r.leader)" }
        s += " commit=\(r.commitIndex) applied=\(r.appliedIndex) last=\(r.lastIndex) \(Self.describe(r.configuration))"
        if r.leadTransferee != 0 { s += " transferee=\(r.leadTransferee)" }
        emit(s)
        guard r.role == .leader else { return }
        for pid in r.progress.keys.sorted() where pid != id {
            let pr = r.progress[pid]!
            var p = "   progress \(pid): match=\(pr.match) next=\(pr.next) \(pr.state)"
            if pr.isLearner { p += " learner" }
            if pr.state == .probe && pr.probeSent { p += " paused" }
            if pr.inflights.count > 0 { p += " inflight=\(pr.inflights.count)" }
            if pr.inactiveTicks > 0 { p += " inactive=\(pr.inactiveTicks)" }
            emit(p)
        }
    }

    private mutating func result(_ r: Result<Void, RaftError>) {
        switch r {
        case .success: emit("ok")
        case .failure(let e): emit("error: \(e)")
        }
    }

    private mutating func emit(_ line: String) { out.append(indent + line) }

    // MARK: - Arguments

    private func replica(_ s: String) throws -> ReplicaID {
        let id = try Self.parseID(s)
        guard replicas[id] != nil else { throw Failure("no replica \(id)") }
        return id
    }

    private func ids(_ cmd: DataDrivenCommand, atLeast n: Int) throws -> [ReplicaID] {
        let ids = try cmd.positional.map { try replica($0) }
        guard ids.count >= n else { throw Failure("`\(cmd.name)` needs at least \(n) replica id") }
        return ids
    }

    private func int(_ cmd: DataDrivenCommand, _ key: String) throws -> Int? {
        guard let v = cmd.args[key] else { return nil }
        guard let n = Int(v) else { throw Failure("\(key)=\(v) is not a number") }
        return n
    }

    private func bool(_ cmd: DataDrivenCommand, _ key: String) throws -> Bool? {
        switch cmd.args[key] {
        case nil: return nil
        case "true": return true
        case "false": return false
        case let v?: throw Failure("\(key)=\(v) is not true or false")
        }
    }

    private func confChange(_ cmd: DataDrivenCommand) throws -> ConfChange {
        let tokens = cmd.positional.dropFirst()
        if tokens == ["leave"] { return .leaveJoint }
        var changes: [ConfChange.Single] = []
        for t in tokens {
            let op: ConfChange.Operation
            switch t.first {
            case "v": op = .addVoter
            case "l": op = .addLearner
            case "r": op = .remove
            default: throw Failure("conf change `\(t)`: expected v<id>, l<id>, r<id> or leave")
            }
            changes.append(ConfChange.Single(op, try Self.parseID(String(t.dropFirst()))))
        }
        let transition: ConfChange.Transition
        switch cmd.args["transition"] ?? "auto" {
        case "auto": transition = .auto
        case "implicit": transition = .jointImplicit
        case "explicit": transition = .jointExplicit
        case let v: throw Failure("transition=\(v): expected auto, implicit or explicit")
        }
        return ConfChange(changes, transition: transition)
    }

    // MARK: - Formatting

    /// `term/index kind payload`: a normal entry's data quoted, a conf change decoded.
    static func describe(_ e: Entry) -> String {
        switch e.kind {
        case .normal:
            return "\(e.term)/\(e.index) \(e.kind) \(quoted(e.data))"
        case .confChange:
            guard let cc = try? ConfChange.decode(e.data) else { return "\(e.term)/\(e.index) \(e.kind) <undecodable>" }
            return "\(e.term)/\(e.index) \(e.kind) \(describe(cc))"
        }
    }

    static func describe(_ cc: ConfChange) -> String {
        if cc.isLeaveJoint { return "leave-joint" }
        let ops = cc.changes.map { c -> String in
            let letter = switch c.operation {
            case .addVoter: "v"
            case .addLearner: "l"
            case .remove: "r"
            }
            return "\(letter)\(c.replica)"
        }
        let transition = switch cc.transition {
        case .auto: ""
        case .jointImplicit: " transition=implicit"
        case .jointExplicit: " transition=explicit"
        }
        return ops.joined(separator: " ") + transition
    }

    /// `voters=(1,2,3)`; in a joint configuration `voters=(incoming)&&(outgoing)`.
    static func describe(_ c: Configuration) -> String {
        func list(_ s: Set<ReplicaID>) -> String { "(" + s.sorted().map { "\($0)" }.joined(separator: ",") + ")" }
        var s = "voters=" + list(c.voters)
        if c.isJoint { s += "&&" + list(c.outgoing) }
        if !c.learners.isEmpty { s += " learners=" + list(c.learners) }
        if !c.learnersNext.isEmpty { s += " learnersNext=" + list(c.learnersNext) }
        if c.autoLeave { s += " autoLeave" }
        if !c.retired.isEmpty { s += " retired=" + list(c.retired) }
        return s
    }

    /// `from->to kind field=value ...`: the fields that matter for the kind, then any other
    /// field that is set, so nothing a message carries is hidden.
    static func describe(_ m: Message) -> String {
        let order = ["term", "index", "logTerm", "commit", "reject", "rejectHint", "context", "entries", "snapshot"]
        func isSet(_ f: String) -> Bool {
            switch f {
            case "term": m.term != 0
            case "index": m.index != 0
            case "logTerm": m.logTerm != 0
            case "commit": m.commit != 0
            case "reject": m.reject
            case "rejectHint": m.rejectHint != 0
            case "context": !m.context.isEmpty
            case "entries": !m.entries.isEmpty
            default: m.snapshot != nil
            }
        }
        func render(_ f: String) -> String {
            switch f {
            case "term": "term=\(m.term)"
            case "index": "index=\(m.index)"
            case "logTerm": "logTerm=\(m.logTerm)"
            case "commit": "commit=\(m.commit)"
            case "reject": m.reject ? "reject" : "accept"
            case "rejectHint": "rejectHint=\(m.rejectHint)"
            case "context": "context=\(quoted(m.context))"
            case "entries": "entries=[" + m.entries.map(describe).joined(separator: ", ") + "]"
            default: m.snapshot.map { "snapshot=\($0.metadata.term)/\($0.metadata.index)" } ?? "snapshot=nil"
            }
        }
        let always: [String] = switch m.kind {
        case .append: ["term", "index", "logTerm", "commit"]
        case .appendResponse: m.reject ? ["term", "index", "reject", "rejectHint", "logTerm"] : ["term", "index"]
        case .vote, .preVote: ["term", "index", "logTerm"]
        case .voteResponse, .preVoteResponse: ["term"]
        case .heartbeat: ["term", "commit"]
        case .heartbeatResponse: ["term"]
        case .snapshot: ["term", "snapshot"]
        case .propose: ["entries"]
        case .readIndex: ["context"]
        case .readIndexResponse: ["term", "index", "context"]
        case .timeoutNow: ["term"]
        case .transferLeader: []
        }
        // A transfer request's `from` is its transferee, not its sender.
        var parts = m.kind == .transferLeader ? ["->\(m.to) \(m.kind) transferee=\(m.from)"] : ["\(m.from)->\(m.to) \(m.kind)"]
        parts += always.map(render)
        parts += order.filter { !always.contains($0) && isSet($0) }.map(render)
        return parts.joined(separator: " ")
    }

    static func parseNumber(_ s: String) throws -> UInt64 {
        guard let v = UInt64(s) else { throw Failure("`\(s)` is not a number") }
        return v
    }

    static func parseID(_ s: String) throws -> ReplicaID { ReplicaID(try parseNumber(s)) }

    static func quoted(_ bytes: [UInt8]) -> String { "\"" + String(decoding: bytes, as: UTF8.self) + "\"" }
}

