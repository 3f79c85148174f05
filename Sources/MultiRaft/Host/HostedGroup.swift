extension RaftHost {
    /// One Raft group hosted on this node: its replica's core, its state machine, and what the
    /// host tracks for it (requests waiting, snapshot bookkeeping, the hard state written).
    final class HostedGroup {
        let id: GroupID
        var core: RaftReplica
        /// This node's replica id in the group (the core's, kept here to read without a copy).
        let replica: ReplicaID
        let stateMachine: any GroupStateMachine
        var nodeOf: [ReplicaID: NodeID]
        var lastSnapshotIndex: LogIndex
        /// Bytes of entries applied since the last snapshot (the byte trigger of compaction).
        var bytesSinceSnapshot: UInt64 = 0
        /// Uncompressed size of the state in the last snapshot written here (0: none yet).
        var lastSnapshotStateBytes: UInt64 = 0
        /// The hard state last handed to the WAL writer.
        var writtenHardState = HardState()
        /// A hard state that differs from the written one only in its commit index: it needs no
        /// write of its own and goes with the next round that writes anything.
        var lazyHardState: HardState?
        var proposals: [UInt64: (completion: Completion, deadline: Double)] = [:]
        var reads: [UInt64: (body: ReadBody, completion: Completion, deadline: Double, index: LogIndex?)] = [:]
        /// Whether this replica has been a member of the group's configuration; once it was and
        /// an applied change removes it, the replica is destroyed.
        var wasMember = false
        /// Followers a snapshot is being streamed to right now.
        var snapshotsSending: Set<ReplicaID> = []
        /// A snapshot of this group is being written on another thread.
        var snapshotWriting = false
        /// The member lists last published in the group's status, and the configuration's index.
        var statusMembers: (configIndex: LogIndex, voters: [ReplicaID], learners: [ReplicaID])?

        init(id: GroupID, core: RaftReplica, stateMachine: any GroupStateMachine, nodeOf: [ReplicaID: NodeID], lastSnapshotIndex: LogIndex) {
            self.id = id
            self.core = core
            self.replica = core.id
            self.stateMachine = stateMachine
            self.nodeOf = nodeOf
            self.lastSnapshotIndex = lastSnapshotIndex
        }
    }
}
