import Logging
import Dispatch

/// Rounds of group commit: where each pass's Readies become one WAL write, where messages
/// wait for the fsync (`Ready.messagesAfterWrite`, released by `completeRounds`), and where the
/// cores learn what is durable.
extension RaftHost {
    /// A round's durable reports and the messages that wait for its write (see `WriteRounds`).
    typealias PendingRound = WriteRounds<(group: HostedGroup, message: Message)>.Round

    /// One round of group commit: every group's Ready handed to the WAL writer as one batch
    /// of records, messages sent (or queued behind the write), entries applied.
    ///
    /// What does not wait for this round's write:
    /// - Entries in `committedEntries` are committed, i.e. durable on a quorum (a leader counts
    ///   itself only once its own write is durable, see `RaftReplica.persisted`), so they are
    ///   applied and their clients answered at once, even before this node's copy is durable.
    /// - `Ready.messages`: the core's send rule (`RaftReplica.ready`) lets a leader whose term
    ///   and vote are durable send its appends and heartbeats at once, so followers persist in
    ///   parallel with the leader's own write (Raft thesis §10.2.1).
    /// `Ready.messagesAfterWrite` (votes, acknowledgements, snapshots) wait until the writer
    /// reports the round durable (`completeRounds`), and so does the core's knowledge of what
    /// is durable. A round with a received snapshot waits for its write before installing it.
    func processReady() {
        var readies: [(HostedGroup, Ready)] = []
        var records: [WALRecord] = []
        var early: [NodeID: [(group: GroupID, message: Message)]] = [:]
        var round = PendingRound()
        var hasSnapshot = false
        for gid in groups.keys.sorted() {
            let g = groups[gid]!
            guard g.core.pollReady() else { continue }
            let rd = g.core.ready()
            appendRecords(g, rd, into: &records)
            if rd.snapshot != nil { hasSnapshot = true }
            // The core sorted the messages: these may leave before the write (see `Ready`).
            for m in rd.messages { early[nodeOf(g, m.to), default: []].append((g.id, m)) }
            round.collect(rd, group: gid, replica: g.replica) { (g, $0) }
            readies.append((g, rd))
        }
        guard !readies.isEmpty else { return }
        activity.rounds += 1
        activity.readies += UInt64(readies.count)
        for (dest, batch) in early { send(batch, to: dest) }
        var write: UInt64?
        if !records.isEmpty {
            records.append(contentsOf: takeLazyRecords())
            write = writer.submit(records)
        }
        // Nothing to write: what waits keeps its order behind the writes in flight.
        if let now = rounds.enqueue(round, write: write) { complete(now) }
        if hasSnapshot, let last = rounds.lastSeq {
            writer.wait(for: last)
            completeRounds(through: last)
        }
        for (g, rd) in readies where rd.snapshot == nil { apply(g, rd.committedEntries) }
        for (g, rd) in readies {
            if let snap = rd.snapshot {
                installSnapshot(g, snap)
                apply(g, rd.committedEntries)
            }
            for rs in rd.readStates {
                var r = BinaryReader(rs.context)
                if let id = try? r.readUInt64(), g.reads[id] != nil { g.reads[id]!.index = rs.index }
            }
            if rd.softState != nil && g.core.role != .leader {
                // Lost leadership: pending proposals are in the log and may still commit
                // under the new leader, or be overwritten; this node no longer learns which.
                for (_, p) in g.proposals { p.completion(.failure(.outcomeUnknown("leadership lost"))) }
                g.proposals = [:]
            }
            if let soft = rd.softState { logLeadership(g, soft) }
            if rd.softState != nil {
                // The leader changed: a read still waiting for its ReadIndex asked a leader that
                // will never answer it; let the caller retry (a read with its index keeps waiting
                // for the apply).
                for (id, r) in g.reads where r.index == nil {
                    g.reads[id] = nil
                    r.completion(.failure(.notLeader(leaderNode(g))))
                }
            }
            g.core.advance(rd)
            serveReads(g)
            maybeSnapshot(g)
            publishStatus(g)
            if g.core.configuration.isMember(g.replica) {
                g.wasMember = true
            } else if g.wasMember {
                destroy(g, reason: "removed from the group's configuration")
            }
        }
        // Wait a little for the write: requests arriving meanwhile share the next round. Never
        // on an executor's thread, which has other work to do meanwhile.
        if executor == nil, settings.walWaitMicros > 0, let last = rounds.lastSeq {
            if writer.wait(for: last, timeout: .now() + .microseconds(settings.walWaitMicros)) {
                completeRounds(through: last)
            }
        }
    }

    /// Adds the WAL records of one Ready to `records`; returns whether its hard state is among
    /// them. A hard state whose term and vote were already written waits as a lazy record
    /// unless the Ready writes entries anyway: a commit index need not be durable (a restarted
    /// replica relearns it from the leader), so it never costs an fdatasync of its own.
    private func appendRecords(_ g: HostedGroup, _ rd: Ready, into records: inout [WALRecord]) {
        var toWrite = rd
        if let hs = rd.hardState {
            let written = g.writtenHardState
            if rd.entries.isEmpty && rd.snapshot == nil && hs.term == written.term && hs.vote == written.vote {
                g.lazyHardState = hs
                lazyGroups.insert(g.id)
                toWrite.hardState = nil
            } else {
                g.writtenHardState = hs
                g.lazyHardState = nil
            }
        }
        records.append(contentsOf: RecoveredGroup.records(for: g.id, ready: toWrite))
    }

    /// The lazy records, and every group's lazy hard state, for the next write.
    func takeLazyRecords() -> [WALRecord] {
        var out = lazyRecords
        lazyRecords = []
        for gid in lazyGroups.sorted() {
            guard let g = groups[gid], let hs = g.lazyHardState else { continue }
            out.append(.hardState(group: gid, state: hs))
            g.writtenHardState = hs
            g.lazyHardState = nil
        }
        lazyGroups = []
        return out
    }

    /// The writer made every round through `seq` durable.
    func completeRounds(through seq: UInt64) {
        for round in rounds.complete(through: seq) { complete(round) }
    }

    /// A round is durable: the cores learn it and the messages that waited for it go out.
    private func complete(_ round: PendingRound) {
        for m in round.marks {
            guard let g = groups[m.group], g.replica == m.replica else { continue }
            g.core.persisted(m.mark)
        }
        guard !round.waiting.isEmpty else { return }
        var outbox: [NodeID: [(group: GroupID, message: Message)]] = [:]
        for (g, m) in round.waiting {
            let dest = nodeOf(g, m.to)
            if m.kind == .snapshot {
                sendSnapshot(g, m, to: dest)
                continue
            }
            outbox[dest, default: []].append((g.id, m))
        }
        for (dest, batch) in outbox { send(batch, to: dest) }
    }
}

extension RaftHost {
    /// Logs a change of leader or role of group `g` (info): who leads now, in which term.
    func logLeadership(_ g: HostedGroup, _ soft: Ready.SoftState) {
        let term = g.core.term.rawValue
        switch soft.role {
        case .leader:
            log(.info, g.id, "group \(g.id): this node is the leader", ["term": .stringConvertible(term)])
        case .candidate, .preCandidate:
            log(.debug, g.id, "group \(g.id): campaigning", ["term": .stringConvertible(term)])
        default:
            if let leader = leaderNode(g) {
                let name = settings.describeNode(leader)
                log(.info, g.id, "group \(g.id): \(name) is the leader", ["term": .stringConvertible(term), "leader": .string(name)])
            } else {
                log(.info, g.id, "group \(g.id): no leader", ["term": .stringConvertible(term)])
            }
        }
    }
}
