/// Binary encoding of Raft messages for the peer transport. Decoding is bounded and throws on
/// anything malformed: peers are outside input too.
extension Message {
    public func encode(into w: inout BinaryWriter) {
        w.write(kind.rawValue)
        w.write(from)
        w.write(to)
        w.write(term)
        w.write(logTerm)
        w.write(index)
        w.write(commit)
        w.write(reject)
        w.write(rejectHint)
        w.writeBlob(context)
        w.write(UInt32(entries.count))
        for e in entries { e.encode(into: &w) }
        if let s = snapshot {
            w.write(true)
            w.write(s.metadata.index)
            w.write(s.metadata.term)
            s.metadata.configuration.encode(into: &w)
            w.writeBlob(s.data)
        } else {
            w.write(false)
        }
    }

    public static func decode(from r: inout BinaryReader) throws(DecodeError) -> Message {
        guard let kind = Kind(rawValue: try r.readUInt8()) else { throw DecodeError("message: unknown kind") }
        var m = Message(kind: kind, from: try r.read(ReplicaID.self), to: try r.read(ReplicaID.self), term: try r.read(Term.self))
        m.logTerm = try r.read()
        m.index = try r.read()
        m.commit = try r.read()
        m.reject = try r.readBool()
        m.rejectHint = try r.read()
        m.context = try r.readBlob(limit: 1 << 16)
        let n = try r.readUInt32()
        guard Int(n) * 21 <= r.remaining else { throw DecodeError("message: \(n) entries exceed the frame") }
        m.entries.reserveCapacity(Int(n))
        for _ in 0..<n { m.entries.append(try Entry.decode(from: &r)) }
        if try r.readBool() {
            let index = try r.read(LogIndex.self), term = try r.read(Term.self)
            let cfg = try Configuration.decode(from: &r)
            m.snapshot = Snapshot(metadata: SnapshotMetadata(index: index, term: term, configuration: cfg), data: try r.readBlob())
        }
        return m
    }
}

extension Entry {
    public func encode(into w: inout BinaryWriter) {
        w.write(term)
        w.write(index)
        w.write(kind.rawValue)
        w.writeBlob(data)
    }

    public static func decode(from r: inout BinaryReader) throws(DecodeError) -> Entry {
        let term = try r.read(Term.self), index = try r.read(LogIndex.self)
        guard let kind = Kind(rawValue: try r.readUInt8()) else { throw DecodeError("entry: unknown kind") }
        return Entry(term: term, index: index, kind: kind, data: try r.readBlob())
    }
}
