/// A message between replicas of one group. Fields follow Raft's RPCs; which ones are
/// meaningful depends on `kind`.
public struct Message: Sendable, Hashable {
    public enum Kind: UInt8, Sendable, CaseIterable {
        case append = 0, appendResponse
        case vote, voteResponse
        case preVote, preVoteResponse
        case heartbeat, heartbeatResponse
        case snapshot
        /// A proposal forwarded by a follower to the leader.
        case propose
        /// A read request forwarded to the leader, and the leader's answer.
        case readIndex, readIndexResponse
        /// "Campaign now": the last step of a leadership transfer.
        case timeoutNow
        /// A transfer request forwarded to the leader; `from` is the transferee, not the sender.
        case transferLeader
    }

    public var kind: Kind
    public var from: ReplicaID = 0
    public var to: ReplicaID = 0
    public var term: Term = 0
    /// append: term of the entry at `index`; vote: the candidate's last log term;
    /// appendResponse (reject): term of the entry at `rejectHint`.
    public var logTerm: Term = 0
    /// append: the index before `entries`; vote: the candidate's last index;
    /// appendResponse: the last index matched (or the rejected index).
    public var index: LogIndex = 0
    public var entries: [Entry] = []
    public var commit: LogIndex = 0
    public var reject = false
    public var rejectHint: LogIndex = 0
    public var snapshot: Snapshot? = nil
    /// readIndex and heartbeats: the read request's id. vote: "transfer" forces a campaign.
    public var context: [UInt8] = []

    public init(kind: Kind, from: ReplicaID = 0, to: ReplicaID = 0, term: Term = 0) {
        self.kind = kind
        self.from = from
        self.to = to
        self.term = term
    }
}

/// The `context` of a vote message sent because of a leadership transfer.
let campaignTransferContext: [UInt8] = Array("transfer".utf8)
