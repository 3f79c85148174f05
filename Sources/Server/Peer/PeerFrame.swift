import MultiRaft
import NIOCore

/// What nodes send each other on the peer port. Every frame is
/// `[length u32][crc32c u32][kind u8][payload]`, little-endian; length and CRC cover kind and
/// payload. Bytes that do not parse close the connection (and only that connection).
enum PeerFrame: Sendable {
    /// First frame of a connection: who is calling, and which cluster it belongs to.
    case hello(node: NodeID, cluster: UInt64)
    /// Raft messages of any number of groups.
    case raft([(group: GroupID, message: Message)])
    /// A client command forwarded to the node that leads its shard; `hops` bounds re-forwarding,
    /// and the receiver gives up within `budgetMillis` (what is left of the sender's deadline),
    /// so no copy of the request outlives the answer its client got.
    case forward(id: UInt64, hops: UInt8, budgetMillis: UInt32, arguments: [[UInt8]])
    /// The RESP-encoded reply to a forwarded command.
    case reply(id: UInt64, resp: [UInt8])
    /// First frame of a snapshot stream (a connection of its own): the sender, its cluster,
    /// the group, the Raft snapshot message (without data) and the file's size.
    case snapshotBegin(node: NodeID, cluster: UInt64, group: GroupID, message: Message, size: UInt64)
    /// The next bytes of the snapshot file (about 1 MiB).
    case snapshotChunk([UInt8])
    /// The whole file was sent.
    case snapshotEnd
    /// Receiver to sender: bytes written so far, and whether the stream goes on, was taken
    /// (`done`) or was refused (with why).
    case snapshotAck(received: UInt64, state: SnapshotAckState, detail: String)
    /// An operation for a group's leader (the rebalancer's: progress, membership change,
    /// leadership transfer); answered by `groupReply` with the same id.
    case groupRequest(id: UInt64, group: GroupID, op: GroupOp)
    case groupReply(id: UInt64, result: GroupOpResult)

    static let maxFrameBytes = 512 << 20

    func encoded() -> [UInt8] {
        var w = BinaryWriter(capacity: 128)
        w.write(UInt32(0))
        w.write(UInt32(0))
        switch self {
        case .hello(let node, let cluster):
            w.write(UInt8(1))
            w.write(node)
            w.write(cluster)
        case .raft(let batch):
            w.write(UInt8(2))
            w.write(UInt32(batch.count))
            for (g, m) in batch {
                w.write(g)
                m.encode(into: &w)
            }
        case .forward(let id, let hops, let budget, let args):
            w.write(UInt8(3))
            w.write(id)
            w.write(hops)
            w.write(budget)
            w.write(UInt32(args.count))
            for a in args { w.writeBlob(a) }
        case .reply(let id, let resp):
            w.write(UInt8(4))
            w.write(id)
            w.writeBlob(resp)
        case .snapshotBegin(let node, let cluster, let group, let message, let size):
            w.write(UInt8(5))
            w.write(node)
            w.write(cluster)
            w.write(group)
            w.write(size)
            message.encode(into: &w)
        case .snapshotChunk(let bytes):
            w.write(UInt8(6))
            w.writeBlob(bytes)
        case .snapshotEnd:
            w.write(UInt8(7))
        case .snapshotAck(let received, let state, let detail):
            w.write(UInt8(8))
            w.write(received)
            w.write(state.rawValue)
            w.writeBlob(Array(detail.utf8))
        case .groupRequest(let id, let group, let op):
            w.write(UInt8(9))
            w.write(id)
            w.write(group)
            op.encode(into: &w)
        case .groupReply(let id, let result):
            w.write(UInt8(10))
            w.write(id)
            result.encode(into: &w)
        }
        var bytes = w.bytes
        let length = UInt32(bytes.count - 8)
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[8...])) }
        for k in 0..<4 {
            bytes[k] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(k)))
            bytes[4 + k] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(k)))
        }
        return bytes
    }

    static func decode(body: [UInt8]) throws(DecodeError) -> PeerFrame {
        var r = BinaryReader(body)
        switch try r.readUInt8() {
        case 1:
            return .hello(node: try r.readUInt64(), cluster: try r.readUInt64())
        case 2:
            let n = try r.readUInt32()
            guard Int(n) * 16 <= r.remaining else { throw DecodeError("raft batch of \(n) messages exceeds the frame") }
            var batch: [(GroupID, Message)] = []
            for _ in 0..<n { batch.append((try r.readUInt64(), try Message.decode(from: &r))) }
            return .raft(batch.map { (group: $0.0, message: $0.1) })
        case 3:
            let id = try r.readUInt64(), hops = try r.readUInt8(), budget = try r.readUInt32()
            let n = try r.readUInt32()
            guard Int(n) * 4 <= r.remaining else { throw DecodeError("forward of \(n) arguments exceeds the frame") }
            var args: [[UInt8]] = []
            for _ in 0..<n { args.append(try r.readBlob()) }
            return .forward(id: id, hops: hops, budgetMillis: budget, arguments: args)
        case 4:
            return .reply(id: try r.readUInt64(), resp: try r.readBlob())
        case 5:
            let node = try r.readUInt64(), cluster = try r.readUInt64(), group = try r.readUInt64(), size = try r.readUInt64()
            return .snapshotBegin(node: node, cluster: cluster, group: group, message: try Message.decode(from: &r), size: size)
        case 6:
            return .snapshotChunk(try r.readBlob())
        case 7:
            return .snapshotEnd
        case 8:
            let received = try r.readUInt64()
            guard let state = SnapshotAckState(rawValue: try r.readUInt8()) else { throw DecodeError("unknown snapshot ack state") }
            return .snapshotAck(received: received, state: state, detail: String(decoding: try r.readBlob(limit: 4096), as: UTF8.self))
        case 9:
            let id = try r.readUInt64(), group = try r.readUInt64()
            return .groupRequest(id: id, group: group, op: try GroupOp.decode(from: &r))
        case 10:
            let id = try r.readUInt64()
            return .groupReply(id: id, result: try GroupOpResult.decode(from: &r))
        case let k:
            throw DecodeError("unknown peer frame kind \(k)")
        }
    }
}

/// How a snapshot stream stands, as its receiver reports it.
enum SnapshotAckState: UInt8, Sendable {
    case receiving = 0, done = 1, refused = 2
}

/// A peer stream that is not MyStore's protocol (or is damaged).
struct PeerProtocolError: Error, CustomStringConvertible {
    var description: String
}

/// Splits the peer byte stream into frames, checking length and CRC.
struct PeerFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = PeerFrame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= 8,
              let length = buffer.getInteger(at: buffer.readerIndex, endianness: .little, as: UInt32.self),
              let crc = buffer.getInteger(at: buffer.readerIndex + 4, endianness: .little, as: UInt32.self)
        else { return .needMoreData }
        guard length >= 1, Int(length) <= PeerFrame.maxFrameBytes else {
            throw PeerProtocolError(description: "peer frame of \(length) bytes is out of bounds")
        }
        guard buffer.readableBytes >= 8 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 8)
        let body = buffer.readBytes(length: Int(length))!
        guard CRC32C.checksum(body) == crc else { throw PeerProtocolError(description: "peer frame checksum mismatch") }
        do {
            context.fireChannelRead(wrapInboundOut(try PeerFrame.decode(body: body)))
        } catch {
            throw PeerProtocolError(description: "malformed peer frame: \(error)")
        }
        return .continue
    }
}
