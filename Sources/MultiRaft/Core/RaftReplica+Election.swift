extension RaftReplica {
    /// Where a vote is decided (Raft §5.2, §5.4.1; thesis §9.6 for pre-votes): granted to a
    /// candidate this replica already voted for, or to any when it has not voted and knows no
    /// leader (a pre-vote for a later term too), and only if the candidate's log is at least as
    /// up to date as ours. Called by `step` once the message's term has been dealt with.
    mutating func handleVoteRequest(_ m: Message) {
        let canVote = vote == m.from
            || (vote == 0 && leader == 0)
            || (m.kind == .preVote && m.term > term)
        var r = Message(kind: m.kind == .vote ? .voteResponse : .preVoteResponse, to: m.from)
        if canVote && log.isUpToDate(lastIndex: m.index, term: m.logTerm) {
            // Answer with the candidate's term so it counts the vote in the right campaign.
            r.term = m.term
            if m.kind == .vote {
                electionElapsed = 0
                vote = m.from
            }
        } else {
            r.reject = true
        }
        send(r)
    }

    mutating func tickElection() {
        electionElapsed += 1
        if isPromotable && electionElapsed >= randomizedElectionTimeout {
            electionElapsed = 0
            campaign(preVote: settings.preVote, transfer: false)
        }
    }

    /// Whether committed entries not yet applied include a configuration change: campaigning
    /// before applying it could use the wrong configuration.
    var hasUnappliedConfChanges: Bool {
        guard log.committed > log.applied else { return false }
        return log.slice(from: log.applied + 1, through: log.committed).contains { $0.kind == .confChange }
    }

    mutating func campaign(preVote: Bool, transfer: Bool) {
        guard role != .leader, isPromotable, !hasUnappliedConfChanges else { return }
        let voteTerm: Term
        let kind: Message.Kind
        if preVote {
            becomePreCandidate()
            voteTerm = term + 1
            kind = .preVote
        } else {
            becomeCandidate()
            voteTerm = term
            kind = .vote
        }
        votes = [id: true]
        if Quorum.voteResult(configuration, votes) == .won {
            // A group of one.
            if preVote {
                campaign(preVote: false, transfer: transfer)
            } else {
                becomeLeader()
                bcastAppend()
            }
            return
        }
        for peer in configuration.allVoters.sorted() where peer != id {
            var m = Message(kind: kind, to: peer, term: voteTerm)
            m.index = log.lastIndex
            m.logTerm = log.lastTerm
            if transfer { m.context = campaignTransferContext }
            send(m)
        }
    }

    mutating func reset(term newTerm: Term) {
        if term != newTerm {
            term = newTerm
            vote = 0
        }
        leader = 0
        electionElapsed = 0
        heartbeatElapsed = 0
        randomizedElectionTimeout = settings.electionTicks + Int.random(in: 0..<settings.electionTicks, using: &rng)
        leadTransferee = 0
        votes = [:]
        progress = [:]
        readOnly = ReadOnlyQueue()
        deferredReads = []
        bcastPending = false
    }

    mutating func becomeFollower(term newTerm: Term, leader newLeader: ReplicaID) {
        reset(term: newTerm)
        leader = newLeader
        role = .follower
    }

    mutating func becomePreCandidate() {
        // Neither the term nor the vote changes: a pre-vote is only a poll.
        let keepTerm = term
        reset(term: keepTerm)
        role = .preCandidate
    }

    mutating func becomeCandidate() {
        reset(term: term + 1)
        vote = id
        role = .candidate
    }

    mutating func becomeLeader() {
        let keepTerm = term
        reset(term: keepTerm)
        leader = id
        role = .leader
        for member in configuration.members {
            progress[member] = newProgress(for: member)
        }
        if var me = progress[id] {
            _ = me.maybeUpdate(log.persisted)
            me.becomeReplicate()
            progress[id] = me
        }
        // No configuration change until everything before this term is applied.
        pendingConfIndex = log.lastIndex
        // The no-op: committing an entry of our own term commits everything before it.
        appendEntries([Entry(term: 0, index: 0)])
    }

    func newProgress(for member: ReplicaID) -> Progress {
        Progress(next: log.lastIndex + 1, maxInflight: settings.maxInflightMsgs,
                 maxInflightBytes: settings.maxInflightBytes, isLearner: !configuration.isVoter(member))
    }
}
