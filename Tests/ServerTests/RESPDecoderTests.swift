import NIOCore
import NIOEmbedded
import Testing
@testable import Server

/// A small deterministic generator (SplitMix64), so a failing garbage run can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("RESP decoder")
struct RESPDecoderTests {
    /// Decodes everything in `input`; returns the commands as strings.
    static func decodeAll(_ input: String, limits: RESPLimits = RESPLimits()) throws -> [[String]] {
        var decoder = RESPDecoder(limits: limits)
        var buffer = ByteBuffer(string: input)
        var commands: [[String]] = []
        while let command = try decoder.decode(buffer: &buffer) {
            commands.append(command.parts.map { String(buffer: $0) })
        }
        return commands
    }

    @Test func arrayOfBulkStrings() throws {
        #expect(try Self.decodeAll("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n") == [["SET", "key", "va\r\nl"]])
        #expect(try Self.decodeAll("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n") == [["ECHO", ""]])
    }

    @Test func inlineCommands() throws {
        #expect(try Self.decodeAll("PING\r\n") == [["PING"]])
        #expect(try Self.decodeAll("set  a\tb\n") == [["set", "a", "b"]])
        #expect(try Self.decodeAll("\r\n\n") == [])
    }

    @Test func pipelinedRequestsInOrder() throws {
        let input = "PING\r\n*1\r\n$4\r\nPING\r\n*0\r\n*-1\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\nINFO\r\n"
        #expect(try Self.decodeAll(input) == [["PING"], ["PING"], ["ECHO", "x"], ["INFO"]])
    }

    @Test func incompleteInputWaitsWithoutConsuming() throws {
        var decoder = RESPDecoder()
        var buffer = ByteBuffer(string: "*2\r\n$4\r\nECHO\r\n$5\r\nhel")
        #expect(try decoder.decode(buffer: &buffer) == nil)
        #expect(buffer.readerIndex == 0)
        buffer.writeString("lo\r\n")
        let command = try #require(try decoder.decode(buffer: &buffer))
        #expect(command.parts.map { String(buffer: $0) } == ["ECHO", "hello"])
        #expect(buffer.readableBytes == 0)
    }

    /// Every split of a pipelined stream into two reads yields the same commands.
    @Test func splitAcrossReadsAtEveryOffset() throws {
        let input = "*2\r\n$4\r\nECHO\r\n$3\r\nabc\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n"
        let expected = [["ECHO", "abc"], ["PING"], ["QUIT"]]
        let bytes = Array(input.utf8)
        for cut in 0...bytes.count {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(RESPDecoder()))
            try channel.writeInbound(ByteBuffer(bytes: bytes[..<cut]))
            try channel.writeInbound(ByteBuffer(bytes: bytes[cut...]))
            var decoded: [[String]] = []
            while let command = try channel.readInbound(as: RESPCommand.self) {
                decoded.append(command.parts.map { String(buffer: $0) })
            }
            #expect(decoded == expected, "cut at \(cut)")
            _ = try channel.finish()
        }
    }

    @Test(arguments: [
        "*abc\r\n",                       // count not a number
        "*+1\r\n$1\r\na\r\n",              // sign not allowed
        "*1\r\n:1\r\n",                   // element not a bulk string
        "*1\r\n$-1\r\n",                  // null bulk in a request
        "*1\r\n$x\r\n",                   // length not a number
        "*1\r\n$3\r\nabcde\r\n",          // body longer than announced
        "*1\n$1\r\na\r\n",                // LF without CR in header
        "*1\r\n$99999999999999999999999\r\n", // length overflows
        "*" + String(repeating: "1", count: 40) + "\r\n", // header line too long
    ])
    func malformedInputIsAProtocolError(input: String) {
        #expect(throws: RESPProtocolError.self) { try Self.decodeAll(input) }
    }

    @Test func headerWithoutEndIsRejectedOnceTooLong() {
        #expect(throws: RESPProtocolError.self) { try Self.decodeAll("*" + String(repeating: "1", count: 100)) }
        #expect((try? Self.decodeAll("*12")) == [])  // may still complete
    }

    @Test func oversizedRequestsAreRejectedBeforeBuffering() {
        let limits = RESPLimits(maxRequestBytes: 100, maxArguments: 4, maxInlineBytes: 16)
        // Announced body larger than the limit: rejected before the body arrives.
        #expect(throws: RESPProtocolError(message: "request exceeds max_request_bytes (100 bytes)")) {
            try Self.decodeAll("*2\r\n$3\r\nSET\r\n$1000\r\n", limits: limits)
        }
        // Many small arguments adding up past the limit.
        let many = "*4\r\n" + String(repeating: "$30\r\n" + String(repeating: "x", count: 30) + "\r\n", count: 4)
        #expect(throws: RESPProtocolError.self) { try Self.decodeAll(many, limits: limits) }
        #expect(throws: RESPProtocolError(message: "invalid multibulk length")) {
            try Self.decodeAll("*5\r\n", limits: limits)
        }
        #expect(throws: RESPProtocolError.self) { try Self.decodeAll(String(repeating: "a", count: 17), limits: limits) }
        #expect(throws: RESPProtocolError.self) { try Self.decodeAll("a b c d e\r\n", limits: limits) }
        #expect((try? Self.decodeAll("a b c d\r\n", limits: limits)) == [["a", "b", "c", "d"]])
    }

    /// Random bytes, random RESP-like fragments and random read sizes: the decoder returns
    /// commands or a protocol error, never crashes, and always makes progress.
    @Test func randomGarbageNeverCrashes() throws {
        var random = SeededGenerator(state: 0x5EED)
        let fragments = ["*", "$", "\r\n", "\r", "\n", "-1", "0", "3", "99999", "PING", " ", "abc", "*2\r\n", "$3\r\n"]
        let limits = RESPLimits(maxRequestBytes: 512, maxArguments: 16, maxInlineBytes: 128)
        for _ in 0..<2000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 1...40, using: &random) {
                if Bool.random(using: &random) {
                    bytes += Array(fragments.randomElement(using: &random)!.utf8)
                } else {
                    bytes += (0..<Int.random(in: 1...8, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                }
            }
            var decoder = RESPDecoder(limits: limits)
            var buffer = ByteBuffer()
            var offset = 0
            streaming: while offset < bytes.count {
                let chunk = min(bytes.count - offset, Int.random(in: 1...16, using: &random))
                buffer.writeBytes(bytes[offset..<(offset + chunk)])
                offset += chunk
                do {
                    while let command = try decoder.decode(buffer: &buffer) {
                        #expect(!command.parts.isEmpty)
                    }
                } catch is RESPProtocolError {
                    break streaming
                }
                #expect(buffer.readableBytes <= limits.maxRequestBytes + RESPDecoder.maxHeaderLineBytes + 16)
            }
        }
    }
}
