import MultiRaft

extension Simulation {
    static let keys: UInt8 = 5

    /// Picks a live replica of the group: usually the leader, sometimes any replica (a
    /// follower forwards proposals and reads).
    func pickReplica(_ group: SimGroup) -> SimReplica? {
        if chance(0.7), let (_, leader) = leaderNode(of: group) { return leader }
        let live = liveReplicas(of: group)
        return live.isEmpty ? nil : live[random(live.count)]
    }

    func clientWrite() {
        let group = groups[random(groups.count)]
        guard let rep = pickReplica(group) else { return }
        let op = nextOp
        nextOp += 1
        let w = SimWrite(op: op, key: UInt8(random(Int(Self.keys))), value: op)
        if case .success = rep.core.propose(w.encoded()) {
            pendingWrites[op] = (group.index, rep.id)
            scheduleProcess(nodes[group.nodeOf[rep.id]!])
        }
    }

    func clientRead() {
        let group = groups[random(groups.count)]
        guard let rep = pickReplica(group) else { return }
        let op = nextOp
        nextOp += 1
        // The read must see everything committed anywhere before it began.
        var committed = group.checker.maxCommit
        for r in liveReplicas(of: group) { committed = max(committed, r.core.commitIndex) }
        var ctx = BinaryWriter()
        ctx.write(op)
        if case .success = rep.core.readIndex(ctx.bytes) {
            rep.reads[op] = PendingRead(key: UInt8(random(Int(Self.keys))), committedAtStart: committed)
            scheduleProcess(nodes[group.nodeOf[rep.id]!])
        }
    }

    /// One membership step: promote a caught-up learner, remove a voter, add a learner on a
    /// node that hosts no replica of the group, or replace a voter through joint consensus.
    func changeMembership(_ group: SimGroup) {
        guard let (leaderNodeIndex, leader) = leaderNode(of: group) else { return }
        let cfg = leader.core.configuration
        let freeNodes = nodes.indices.filter { n in nodes[n].replicas[group.index] == nil }
        var cc: ConfChange
        var newReplica: (ReplicaID, Int)?
        if let learner = cfg.learners.sorted().first {
            guard let m = leader.core.matchIndex(of: learner), m >= leader.core.commitIndex else { return }
            cc = .addVoter(learner)
        } else if cfg.voters.count > opts.nodes || (cfg.voters.count == opts.nodes && chance(0.3)) {
            let voters = cfg.voters.sorted()
            cc = .remove(voters[random(voters.count)])
        } else if !freeNodes.isEmpty {
            let id = group.nextReplicaID
            group.nextReplicaID = ReplicaID(rawValue: group.nextReplicaID.rawValue + 1)
            let node = freeNodes[random(freeNodes.count)]
            newReplica = (id, node)
            if cfg.voters.count == opts.nodes && chance(0.5) {
                // Replace a voter in one joint step.
                let voters = cfg.voters.sorted()
                let out = voters[random(voters.count)]
                cc = ConfChange([.init(.remove, out), .init(.addVoter, id)], transition: chance(0.5) ? .jointImplicit : .auto)
            } else {
                cc = .addLearner(id)
            }
        } else {
            return
        }
        if let (id, n) = newReplica {
            // The new replica starts empty and learns everything from the leader.
            let rep = SimReplica(group: group.index, id: id)
            rep.core = makeCore(rep)
            rep.alive = nodes[n].up
            nodes[n].replicas[group.index] = rep
            group.nodeOf[id] = n
        }
        switch leader.core.proposeConfChange(cc) {
        case .success:
            log("group \(group.index): propose \(cc.changes.map { "\($0.operation) \($0.replica)" }) at leader \(leader.id)")
            scheduleProcess(nodes[leaderNodeIndex])
        case .failure(let e):
            log("group \(group.index): conf change refused: \(e)")
            if let (id, n) = newReplica {
                nodes[n].replicas[group.index] = nil
                group.nodeOf[id] = nil
            }
        }
    }

    func transferLeadership(_ group: SimGroup) {
        guard let (n, leader) = leaderNode(of: group) else { return }
        let others = leader.core.configuration.voters.sorted().filter { $0 != leader.id }
        guard !others.isEmpty else { return }
        leader.core.transferLeadership(to: others[random(others.count)])
        stats.transfers += 1
        scheduleProcess(nodes[n])
    }

    /// After healing: every acknowledged write is in the committed log at the index where
    /// it was applied.
    func finalChecks() {
        for a in ackedWrites {
            let ref = groups[a.group].checker.ref
            let i = Int(a.index)
            guard i >= 1, i <= ref.count, let e = ref[i - 1], e.write?.op == a.op else {
                fail("durability", "acknowledged write \(a.op) at index \(a.index) of group \(a.group) is not in the committed log")
                return
            }
        }
    }
}
