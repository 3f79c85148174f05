import RESP
import Testing

@Suite("RESP2 encoding and reply parsing")
struct RESPParserTests {
    @Test func encodesACommandAsAnArrayOfBulkStrings() {
        let wire = RESPEncoder.encode(["SET", "k", "v"].map { Array($0.utf8) })
        #expect(String(decoding: wire, as: UTF8.self) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
        // Binary-safe: CRLF inside an argument and an empty argument.
        let binary = RESPEncoder.encode([Array("SET".utf8), [13, 10, 0], []])
        #expect(binary == Array("*3\r\n$3\r\nSET\r\n$3\r\n".utf8) + [13, 10, 0] + Array("\r\n$0\r\n\r\n".utf8))
    }

    /// One reply of every type, with nesting and both nulls.
    static let everyType = "+OK\r\n-ERR wrong\r\n:-42\r\n$5\r\nhe\r\no\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n"
        + "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n*1\r\n*0\r\n"
    static let everyTypeParsed: [RESPReply] = [
        .simpleString("OK"), .error("ERR wrong"), .integer(-42), .bulkString(Array("he\r\no".utf8)),
        .bulkString([]), .null, .nullArray, .array([]),
        .array([.integer(1), .array([.bulkString([97]), .null]), .array([.array([])])]),
    ]

    @Test func parsesEveryReplyType() throws {
        var parser = RESPParser()
        parser.append(Array(Self.everyType.utf8))
        var replies: [RESPReply] = []
        while let reply = try parser.next() { replies.append(reply) }
        #expect(replies == Self.everyTypeParsed)
        #expect(parser.bufferedByteCount == 0)
    }

    @Test func parsesRepliesSplitAtEveryByte() throws {
        let bytes = Array(Self.everyType.utf8)
        // Fed one byte at a time, no reply appears early and all appear exactly once.
        var parser = RESPParser()
        var replies: [RESPReply] = []
        for byte in bytes {
            parser.append([byte])
            while let reply = try parser.next() { replies.append(reply) }
        }
        #expect(replies == Self.everyTypeParsed)
        // And split in two at every position.
        for cut in 1..<bytes.count {
            var split = RESPParser()
            var got: [RESPReply] = []
            split.append(bytes[..<cut])
            while let reply = try split.next() { got.append(reply) }
            split.append(bytes[cut...])
            while let reply = try split.next() { got.append(reply) }
            #expect(got == Self.everyTypeParsed, "cut at \(cut)")
        }
    }

    @Test func namesTheByteOfAProtocolError() {
        var parser = RESPParser()
        parser.append(Array("+OK\r\n?oops\r\n".utf8))
        #expect(throws: Never.self) { _ = try parser.next() }
        #expect(throws: RESPError(offset: 5, kind: .unknownType(UInt8(ascii: "?")))) { _ = try parser.next() }

        var badLength = RESPParser()
        badLength.append(Array("$3\r\nabcX\r\n".utf8))
        #expect(throws: RESPError(offset: 7, kind: .expectedCRLF(afterBulkOf: 3))) { _ = try badLength.next() }

        var badInteger = RESPParser()
        badInteger.append(Array(":12a\r\n".utf8))
        #expect(throws: RESPError(offset: 1, kind: .notAnInteger(type: UInt8(ascii: ":"), text: "12a"))) { _ = try badInteger.next() }
    }

    @Test func enforcesLimits() {
        var tooDeep = RESPParser(maxNestingDepth: 2)
        tooDeep.append(Array("*1\r\n*1\r\n*1\r\n:1\r\n".utf8))
        #expect(throws: RESPError(offset: 8, kind: .nestedTooDeep(limit: 2))) { _ = try tooDeep.next() }

        var tooLong = RESPParser(maxBulkBytes: 4)
        tooLong.append(Array("$5\r\n".utf8))
        #expect(throws: RESPError(offset: 1, kind: .invalidBulkLength(5, limit: 4))) { _ = try tooLong.next() }
    }

    @Test func offsetsCountFromTheStreamStartAcrossCompaction() throws {
        var parser = RESPParser()
        let reply = Array("$70000\r\n".utf8) + [UInt8](repeating: 120, count: 70000) + Array("\r\n".utf8)
        parser.append(reply)
        #expect(try parser.next() == .bulkString([UInt8](repeating: 120, count: 70000)))
        parser.append(Array("!".utf8))  // compacts the consumed 70 KB first
        #expect(throws: RESPError(offset: reply.count, kind: .unknownType(UInt8(ascii: "!")))) { _ = try parser.next() }
    }
}
