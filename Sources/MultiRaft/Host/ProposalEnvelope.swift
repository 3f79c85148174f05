/// How the host wraps a proposal in a log entry: the proposing node and its proposal id, then
/// the payload. Whichever leader commits the entry, the node that proposed it recognises it
/// when it is applied and completes the request with the state machine's result.
struct ProposalEnvelope: Equatable {
    /// Bytes of the header before the payload.
    static let headerBytes = 16

    var origin: NodeID
    var id: UInt64

    /// The entry data for `payload`.
    func wrap(_ payload: [UInt8]) -> [UInt8] {
        var w = BinaryWriter(capacity: payload.count + Self.headerBytes)
        w.write(origin)
        w.write(id)
        w.write(payload)
        return w.bytes
    }

    /// The envelope of an entry's data; nil for data too short to hold one (the empty entry a
    /// new leader appends).
    init?(entryData data: [UInt8]) {
        guard data.count >= Self.headerBytes else { return nil }
        var r = BinaryReader(data)
        guard let origin = try? r.readUInt64(), let id = try? r.readUInt64() else { return nil }
        self.origin = origin
        self.id = id
    }

    init(origin: NodeID, id: UInt64) {
        self.origin = origin
        self.id = id
    }
}
