extension RaftReplica {
    mutating func tickLeader() {
        heartbeatElapsed += 1
        electionElapsed += 1
        for pid in progress.keys where pid != id {
            progress[pid]!.inactiveTicks += 1
            if progress[pid]!.state == .replicate && progress[pid]!.inflights.count > 0 {
                progress[pid]!.stallTicks += 1
                if progress[pid]!.stallTicks > settings.electionTicks {
                    progress[pid]!.becomeProbe()  // appends were lost; resend from the match
                }
            }
            if progress[pid]!.state == .snapshot {
                progress[pid]!.snapshotTicks += 1
                if progress[pid]!.snapshotTicks > settings.snapshotTimeoutTicks {
                    progress[pid]!.becomeProbe()  // the transfer never finished; retry
                }
            }
        }
        if electionElapsed >= settings.electionTicks {
            electionElapsed = 0
            if settings.checkQuorum {
                var active: Set<ReplicaID> = [id]
                for (pid, pr) in progress where isRecentlyActive(pr) { active.insert(pid) }
                if !Quorum.isQuorum(configuration, active) {
                    becomeFollower(term: term, leader: 0)
                    return
                }
            }
            leadTransferee = 0  // a transfer that did not finish within an election timeout
        }
        if heartbeatElapsed >= settings.heartbeatTicks {
            heartbeatElapsed = 0
            bcastHeartbeat(context: readOnly.last ?? [])
        }
    }

    mutating func stepLeader(_ m: Message) {
        guard var pr = progress[m.from] else { return }
        pr.inactiveTicks = 0
        switch m.kind {
        case .appendResponse:
            if m.reject {
                var hint = m.rejectHint
                if m.logTerm > 0 {
                    // Skip the follower's whole conflicting term in one round trip.
                    hint = log.findConflictByTerm(m.rejectHint, m.logTerm).0
                }
                if pr.maybeDecrTo(rejected: m.index, matchHint: hint) {
                    if pr.state == .replicate { pr.becomeProbe() }
                    progress[m.from] = pr
                    _ = sendAppend(to: m.from)
                } else {
                    progress[m.from] = pr
                }
                return
            }
            let wasPaused = pr.isPaused
            if pr.maybeUpdate(m.index) {
                switch pr.state {
                case .probe: pr.becomeReplicate()
                case .snapshot where pr.match + 1 >= log.firstIndex:
                    pr.becomeProbe()
                    pr.becomeReplicate()
                case .replicate: pr.inflights.freeLE(m.index)
                default: break
                }
                progress[m.from] = pr
                if maybeCommit() {
                    bcastAppend()
                } else if wasPaused {
                    _ = sendAppend(to: m.from)
                }
                while sendAppend(to: m.from, sendIfEmpty: false) {}
                if m.from == leadTransferee && progress[m.from]!.match == log.lastIndex {
                    send(Message(kind: .timeoutNow, to: m.from))
                }
            } else {
                progress[m.from] = pr
            }
        case .heartbeatResponse:
            pr.probeSent = false
            progress[m.from] = pr
            if pr.match < log.lastIndex || pr.state == .probe { _ = sendAppend(to: m.from) }
            if !m.context.isEmpty, let acks = readOnly.ack(m.context, from: m.from), Quorum.isQuorum(configuration, acks) {
                for req in readOnly.release(through: m.context) { answerRead(req.from, index: req.index, context: req.context) }
            }
        default:
            progress[m.from] = pr
        }
    }

    mutating func appendEntries(_ ents: [Entry]) {
        var next = log.lastIndex + 1
        let stamped = ents.map { e -> Entry in
            var e = e
            e.term = term
            e.index = next
            next += 1
            return e
        }
        log.append(stamped)
        // Our own acknowledgement counts only once the entries are durable (see advance).
    }

    /// Sends an append (or a snapshot) to `to` if its progress allows. Returns whether
    /// anything was sent.
    @discardableResult
    mutating func sendAppend(to: ReplicaID, sendIfEmpty: Bool = true) -> Bool {
        guard to != id, var pr = progress[to], !pr.isPaused else { return false }
        let prevIndex: LogIndex = pr.next - 1
        guard let prevTerm = log.term(at: prevIndex) else {
            // Behind our compacted log: only a snapshot can help.
            guard isRecentlyActive(pr), let snap = latestSnapshot else { return false }
            var m = Message(kind: .snapshot, to: to)
            m.snapshot = snap
            send(m)
            pr.becomeSnapshot(snap.metadata.index)
            progress[to] = pr
            return true
        }
        let ents = log.slice(from: pr.next, through: log.lastIndex, maxBytes: settings.maxSizePerMsg)
        if ents.isEmpty && !sendIfEmpty { return false }
        var m = Message(kind: .append, to: to)
        m.index = prevIndex
        m.logTerm = prevTerm
        m.entries = ents
        m.commit = log.committed
        send(m)
        pr.sentCommit = log.committed
        pr.sentEntries(count: ents.count, last: ents.last?.index ?? prevIndex, bytes: ents.reduce(0) { $0 + $1.byteSize })
        progress[to] = pr
        return true
    }

    /// Asks for an append to every follower: new entries, or the new commit index. Sent when
    /// the host next calls `ready()`, so the proposals and commit advances of one host round
    /// leave as one append per follower instead of one each.
    mutating func bcastAppend() {
        bcastPending = true
    }

    /// Sends what `bcastAppend` asked for: to each follower the entries it lacks, or an empty
    /// append when it has not been sent the current commit index.
    mutating func flushBcastAppend() {
        guard bcastPending else { return }
        bcastPending = false
        guard role == .leader else { return }
        for pid in progress.keys.sorted() where pid != id {
            sendAppend(to: pid, sendIfEmpty: progress[pid]!.sentCommit < log.committed)
        }
    }

    mutating func bcastHeartbeat(context: [UInt8]) {
        for (pid, pr) in progress.sorted(by: { $0.key < $1.key }) where pid != id {
            var m = Message(kind: .heartbeat, to: pid)
            // Never tell a follower to commit beyond what it is known to hold.
            m.commit = min(pr.match, log.committed)
            m.context = context
            send(m)
        }
    }

    /// Advances the commit index to what a quorum holds, if that entry is of this term.
    mutating func maybeCommit() -> Bool {
        let acked = Quorum.committedIndex(configuration) { [progress] in progress[$0]?.match ?? 0 }
        guard acked != .max, log.maybeCommit(acked, term: term, anyTerm: isBug(.commitPreviousTerm)) else { return false }
        if !deferredReads.isEmpty && committedInCurrentTerm {
            let reads = deferredReads
            deferredReads = []
            for r in reads { handleReadIndex(r) }
        }
        return true
    }

    var committedInCurrentTerm: Bool { log.term(at: log.committed) == term }

    mutating func handleReadIndex(_ m: Message) {
        if configuration.allVoters == [id] || isBug(.staleRead) {
            answerRead(m.from, index: log.committed, context: m.context)
            return
        }
        // The commit index is only known to be current once an entry of this term commits.
        guard committedInCurrentTerm else {
            deferredReads.append(m)
            return
        }
        readOnly.add(index: log.committed, from: m.from, context: m.context, leader: id)
        bcastHeartbeat(context: m.context)
    }

    mutating func answerRead(_ requester: ReplicaID, index: LogIndex, context: [UInt8]) {
        if requester == id || requester == 0 {
            readStates.append(ReadState(index: index, context: context))
        } else {
            var r = Message(kind: .readIndexResponse, to: requester)
            r.index = index
            r.context = context
            send(r)
        }
    }

    mutating func handleTransferLeader(_ target: ReplicaID) {
        guard target != id, let pr = progress[target], !pr.isLearner else { return }
        if leadTransferee == target { return }
        leadTransferee = target
        electionElapsed = 0
        if pr.match == log.lastIndex {
            send(Message(kind: .timeoutNow, to: target))
        } else {
            sendAppend(to: target)
        }
    }
}
