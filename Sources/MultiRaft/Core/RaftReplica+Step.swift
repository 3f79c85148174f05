extension RaftReplica {
    /// Feeds a message from another replica of the group.
    public mutating func step(_ m: Message) {
        guard m.from != 0, m.from != id else { return }
        if m.term == 0 {
            // Forwarded requests carry no term.
            switch m.kind {
            case .propose: _ = handlePropose(m)
            case .readIndex: if role == .leader { handleReadIndex(m) } else if leader != 0 { forward(m) }
            case .transferLeader: if role == .leader { handleTransferLeader(m.from) } else if leader != 0 { forward(m) }
            default: break
            }
            return
        }
        if m.term > term {
            if m.kind == .vote || m.kind == .preVote {
                let force = m.context == campaignTransferContext
                let inLease = settings.checkQuorum && leader != 0 && electionElapsed < settings.electionTicks
                // Leader lease: while we hear from a leader, ignore candidates (they may be
                // partitioned replicas that would otherwise depose a healthy leader).
                if !force && inLease { return }
            }
            switch m.kind {
            case .preVote:
                break  // a pre-vote never changes our term
            case .preVoteResponse where !m.reject:
                break  // granted pre-votes carry the future term
            case .append, .heartbeat, .snapshot:
                becomeFollower(term: m.term, leader: m.from)
            default:
                becomeFollower(term: m.term, leader: 0)
            }
        } else if m.term < term {
            if (settings.checkQuorum || settings.preVote) && (m.kind == .append || m.kind == .heartbeat) {
                // A stale leader: tell it our term so it steps down.
                send(Message(kind: .appendResponse, to: m.from))
            } else if m.kind == .preVote {
                var r = Message(kind: .preVoteResponse, to: m.from)
                r.reject = true
                send(r)
            }
            return
        }

        switch m.kind {
        case .vote, .preVote:
            handleVoteRequest(m)
        default:
            switch role {
            case .leader: stepLeader(m)
            case .candidate, .preCandidate: stepCandidate(m)
            case .follower: stepFollower(m)
            }
        }
    }

    private mutating func forward(_ m: Message) {
        var f = m
        f.to = leader
        f.term = 0
        send(f)
    }

    mutating func handlePropose(_ m: Message) -> Result<Void, RaftError> {
        guard !m.entries.isEmpty else { return .failure(.proposalDropped("empty proposal")) }
        switch role {
        case .leader:
            guard progress[id] != nil else { return .failure(.proposalDropped("this replica was removed from the group")) }
            guard leadTransferee == 0 else { return .failure(.proposalDropped("leadership transfer in progress")) }
            // Configuration changes go through proposeConfChange only.
            let ents = m.entries.filter { $0.kind == .normal }
            guard !ents.isEmpty else { return .failure(.proposalDropped("configuration changes must be proposed to the leader")) }
            appendEntries(ents)
            bcastAppend()
            return .success(())
        case .follower where leader != 0:
            var f = m
            f.entries = m.entries.filter { $0.kind == .normal }
            forward(f)
            return .success(())
        default:
            return .failure(.notLeader(leaderHint: leader))
        }
    }

    // MARK: - Follower

    private mutating func stepFollower(_ m: Message) {
        switch m.kind {
        case .append:
            electionElapsed = 0
            leader = m.from
            handleAppend(m)
        case .heartbeat:
            electionElapsed = 0
            leader = m.from
            handleHeartbeat(m)
        case .snapshot:
            electionElapsed = 0
            leader = m.from
            handleSnapshot(m)
        case .timeoutNow:
            // Transfer: campaign at once, skipping pre-vote and the lease.
            if isPromotable { campaign(preVote: false, transfer: true) }
        case .readIndexResponse:
            readStates.append(ReadState(index: m.index, context: m.context))
        default:
            break
        }
    }

    private mutating func handleAppend(_ m: Message) {
        var r = Message(kind: .appendResponse, to: m.from)
        if m.index < log.committed {
            r.index = log.committed
        } else if let last = log.maybeAppend(prevIndex: m.index, prevTerm: m.logTerm, commit: m.commit, entries: m.entries) {
            r.index = last
        } else {
            // Fast backtracking: point the leader at the last entry that can possibly match.
            let (hintIndex, hintTerm) = log.findConflictByTerm(min(m.index, log.lastIndex), m.logTerm)
            r.index = m.index
            r.reject = true
            r.rejectHint = hintIndex
            r.logTerm = hintTerm
        }
        send(r)
    }

    private mutating func handleHeartbeat(_ m: Message) {
        log.commit(to: m.commit)
        var r = Message(kind: .heartbeatResponse, to: m.from)
        r.context = m.context
        send(r)
    }

    private mutating func handleSnapshot(_ m: Message) {
        guard let snap = m.snapshot else { return }
        let meta = snap.metadata
        var r = Message(kind: .appendResponse, to: m.from)
        if meta.index <= log.committed {
            r.index = log.committed
        } else if log.matchTerm(meta.index, meta.term) {
            // We already have the entries; just learn that they are committed.
            log.commit(to: meta.index)
            r.index = log.lastIndex
        } else {
            log.restore(index: meta.index, term: meta.term)
            configuration = meta.configuration
            configIndex = meta.index
            latestSnapshot = snap
            receivedSnapshot = snap
            r.index = log.lastIndex
        }
        send(r)
    }

    // MARK: - Candidate

    private mutating func stepCandidate(_ m: Message) {
        switch m.kind {
        case .append:
            becomeFollower(term: m.term, leader: m.from)
            handleAppend(m)
        case .heartbeat:
            becomeFollower(term: m.term, leader: m.from)
            handleHeartbeat(m)
        case .snapshot:
            becomeFollower(term: m.term, leader: m.from)
            handleSnapshot(m)
        case .voteResponse where role == .candidate, .preVoteResponse where role == .preCandidate:
            votes[m.from] = !m.reject
            switch Quorum.voteResult(configuration, votes) {
            case .won:
                if role == .preCandidate {
                    campaign(preVote: false, transfer: false)
                } else {
                    becomeLeader()
                    bcastAppend()
                }
            case .lost:
                becomeFollower(term: term, leader: 0)
            case .pending:
                break
            }
        default:
            break
        }
    }
}
