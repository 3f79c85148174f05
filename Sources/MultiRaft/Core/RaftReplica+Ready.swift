extension RaftReplica {
    /// Whether `ready()` has anything for the host.
    public var hasReady: Bool {
        if readyInFlight != nil { return false }
        if bcastPending && role == .leader { return true }
        if Ready.SoftState(leader: leader, role: role) != prevSoftState { return true }
        if HardState(term: term, vote: vote, commit: log.committed) != prevHardState { return true }
        return log.unstableFrom <= log.lastIndex || receivedSnapshot != nil || !messages.isEmpty
            || !readStates.isEmpty || log.committed > log.applied
    }

    /// `hasReady`, read in place. A host keeps its replicas in class fields, and a getter
    /// called on such a field copies the whole replica first (retaining and releasing every
    /// array and dictionary in it); a mutating call reads the field where it is.
    public mutating func pollReady() -> Bool { hasReady }

    /// The log's watermarks, read in place (see `pollReady`).
    public mutating func watermarks() -> (commit: LogIndex, applied: LogIndex, last: LogIndex, persisted: LogIndex) {
        (log.committed, log.applied, log.lastIndex, log.persisted)
    }

    /// Collects what the host must persist, send and apply. Call `advance(_:)` with the same
    /// value before the next `ready()`.
    public mutating func ready() -> Ready {
        precondition(readyInFlight == nil, "ready() called again before advance()")
        flushBcastAppend()
        var rd = Ready()
        let soft = Ready.SoftState(leader: leader, role: role)
        if soft != prevSoftState {
            rd.softState = soft
            prevSoftState = soft
        }
        let hard = HardState(term: term, vote: vote, commit: log.committed)
        if hard != prevHardState {
            var persistedHard = hard
            if isBug(.forgetVote) {
                // Planted bug: the vote is sent but never made durable.
                persistedHard.vote = prevHardState.term == hard.term ? prevHardState.vote : 0
            }
            rd.hardState = persistedHard
            prevHardState = hard
        }
        rd.snapshot = receivedSnapshot
        receivedSnapshot = nil
        rd.entries = log.unstableEntries
        log.unstableFrom = log.lastIndex + 1
        log.checkInvariants("ready")
        rd.committedEntries = log.nextCommitted(maxBytes: settings.maxCommittedSizePerReady)
        // The send rule. A leader whose term and vote are durable sends its appends and
        // heartbeats at once: they carry nothing that depends on this Ready's write, and its
        // own write counts towards commitment only once reported durable (`persisted`). Every
        // other message (a vote, an acknowledgement of entries, a snapshot) waits for the write
        // it depends on, and so does everything while an earlier Ready's messages wait.
        let early = role == .leader && rd.snapshot == nil && durableTerm == term && durableVote == vote && readiesWithMessagesWaiting == 0
        if early {
            for m in messages {
                if m.kind == .append || m.kind == .heartbeat { rd.messages.append(m) } else { rd.messagesAfterWrite.append(m) }
            }
        } else {
            rd.messagesAfterWrite = messages
        }
        messages = []
        if !rd.messagesAfterWrite.isEmpty { readiesWithMessagesWaiting += 1 }
        rd.readStates = readStates
        readStates = []
        readyInFlight = rd
        return rd
    }

    /// Acknowledges that `rd` was handed to storage, its messages sent or queued and its
    /// committed entries applied. Durability is reported separately with `persisted(_:)`,
    /// which may come several rounds later (the host writes asynchronously).
    public mutating func advance(_ rd: Ready) {
        readyInFlight = nil
        for e in rd.committedEntries where e.index > log.applied {
            log.applied = e.index
            if e.kind == .confChange && e.index > configIndex {
                applyConfChange(e)
            }
        }
        log.checkInvariants("advance")
        guard role == .leader else { return }
        // Leave an automatic joint configuration once it is applied.
        if configuration.isJoint && configuration.autoLeave && log.applied >= pendingConfIndex {
            appendEntries([Entry(term: 0, index: 0, kind: .confChange, data: ConfChange.leaveJoint.encoded())])
            pendingConfIndex = log.lastIndex
            bcastAppend()
        }
    }

    /// Reports that what a `Ready` handed out for persistence is durable and its
    /// `messagesAfterWrite` sent; due for every Ready whose `needsDurableReport` holds, in the
    /// order of the Readies. A leader counts itself towards a quorum only from here, so an
    /// entry it commits is on a majority's disks whether or not its own write came first
    /// (Raft thesis §10.2.1).
    public mutating func persisted(_ mark: DurableMark) {
        if let hs = mark.hardState {
            durableTerm = hs.term
            durableVote = hs.vote
        }
        if mark.releasedMessages { readiesWithMessagesWaiting = max(0, readiesWithMessagesWaiting - 1) }
        if let s = mark.snapshotIndex {
            log.persisted = max(log.persisted, s)
        }
        // Entries truncated since the Ready (a new leader overwrote them) no longer match and
        // say nothing about what is durable now.
        if let last = mark.lastEntryIndex, log.matchTerm(last, mark.lastEntryTerm) {
            log.persisted = max(log.persisted, last)
        }
        log.checkInvariants("persisted")
        guard role == .leader, progress[id] != nil else { return }
        _ = progress[id]!.maybeUpdate(log.persisted)
        if maybeCommit() { bcastAppend() }
    }

    mutating func applyConfChange(_ e: Entry) {
        configIndex = e.index
        // Every replica decodes and validates the same entry the same way, so a change that
        // is refused here is refused everywhere.
        guard let cc = try? ConfChange.decode(e.data),
              case .success(let next) = ConfChanger.apply(cc, to: configuration) else { return }
        configuration = next
        guard role == .leader else { return }
        for member in next.members where progress[member] == nil {
            progress[member] = newProgress(for: member)
        }
        for pid in Array(progress.keys) {
            if !next.members.contains(pid) { progress[pid] = nil } else { progress[pid]!.isLearner = !next.isVoter(pid) }
        }
        if !next.isVoter(id) {
            // We were removed or demoted: hand over to the most caught-up voter and step down.
            let best = progress.filter { next.isVoter($0.key) }.max { ($0.value.match, $1.key) < ($1.value.match, $0.key) }
            if let (target, pr) = best, pr.match == log.lastIndex {
                send(Message(kind: .timeoutNow, to: target))
            }
            becomeFollower(term: term, leader: 0)
            return
        }
        if leadTransferee != 0 && !next.isVoter(leadTransferee) { leadTransferee = 0 }
        _ = maybeCommit()
        bcastAppend()
    }
}
