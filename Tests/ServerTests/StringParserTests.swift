import KVStore
import NIOCore
import Testing
@testable import Server

/// Parsing and replies of the string commands that need more than the state machine: LCS,
/// COPY's options, SETBIT's bounds, MEMORY USAGE.
@Suite struct StringParserTests {
    static let limits = CommandParser.Limits(maxKeyBytes: 64, maxValueBytes: 1_024)

    static func parse(_ parts: String...) -> Result<ParsedCommand, ErrorReply> {
        CommandParser.parse(parts.map { Array($0.utf8) }, limits: limits)
    }

    static func error(_ r: Result<ParsedCommand, ErrorReply>) -> String? {
        if case .failure(let e) = r { return e.message }
        return nil
    }

    @Test func lcsAsRedisComputesIt() {
        let a = Array("ohmytext".utf8), b = Array("mynewtext".utf8)
        #expect(LongestCommonSubsequence.reply(a, b, .init()) == .bulk("mytext"))
        #expect(LongestCommonSubsequence.reply(a, b, .init(length: true)) == .integer(6))
        #expect(LongestCommonSubsequence.reply([], b, .init()) == .bulk(""))
        // Redis's documented example: matches last first, [a range, b range, length].
        let idx = LongestCommonSubsequence.reply(a, b, .init(indexes: true, withMatchLength: true))
        #expect(idx == .map([.bulk("matches"), .array([
            .array([.array([.integer(4), .integer(7)]), .array([.integer(5), .integer(8)]), .integer(4)]),
            .array([.array([.integer(2), .integer(3)]), .array([.integer(0), .integer(1)]), .integer(2)]),
        ]), .bulk("len"), .integer(6)]))
        let min = LongestCommonSubsequence.reply(a, b, .init(indexes: true, minMatchLength: 4))
        #expect(min == .map([.bulk("matches"), .array([.array([.array([.integer(4), .integer(7)]), .array([.integer(5), .integer(8)])])]),
                             .bulk("len"), .integer(6)]))
        #expect(Self.error(Self.parse("LCS", "a", "b", "LEN", "IDX")) == "ERR If you want both the length and indexes, please just use IDX.")
        #expect(Self.error(Self.parse("LCS", "a", "b", "FOO")) == "ERR syntax error")
        #expect(Self.error(Self.parse("LCS", "a", "b", "MINMATCHLEN", "x")) == "ERR value is not an integer or out of range")
    }

    @Test func copyBitsAndMemoryErrors() {
        #expect(Self.error(Self.parse("COPY", "a", "a")) == "ERR source and destination objects are the same")
        #expect(Self.error(Self.parse("COPY", "a", "b", "DB", "1")) == "ERR DB index is out of range")
        #expect(Self.error(Self.parse("COPY", "a", "b", "DB", "0", "REPLACE")) == nil)
        #expect(Self.error(Self.parse("COPY", "a", "b", "NOPE")) == "ERR syntax error")
        #expect(Self.error(Self.parse("SETBIT", "k", "-1", "1")) == "ERR bit offset is not an integer or out of range")
        #expect(Self.error(Self.parse("SETBIT", "k", "4294967296", "1")) == "ERR bit offset is not an integer or out of range")
        #expect(Self.error(Self.parse("SETBIT", "k", "1", "2")) == "ERR bit is not an integer or out of range")
        #expect(Self.error(Self.parse("GETBIT", "k", "x")) == "ERR bit offset is not an integer or out of range")
        #expect(Self.error(Self.parse("SETRANGE", "k", "-1", "x")) == "ERR offset is out of range")
        #expect(Self.error(Self.parse("SETRANGE", "k", "x", "x")) == "ERR value is not an integer or out of range")
        #expect(Self.error(Self.parse("MEMORY", "DOCTOR")) == "ERR unknown subcommand 'DOCTOR'. Try MEMORY HELP.")
        #expect(Self.error(Self.parse("MEMORY", "USAGE", "k", "SAMPLES", "x")) == "ERR value is not an integer or out of range")
        guard case .success(.query(let keys, _, let reply)) = Self.parse("MEMORY", "usage", "key") else {
            Issue.record("MEMORY USAGE is a read")
            return
        }
        #expect(keys == [Array("key".utf8)])
        #expect(reply(.bulk(Array(repeating: 65, count: 33_000))) == .integer(Int64(3 + 33_000 + CommandParser.recordOverheadBytes)))
        #expect(reply(.null) == .null)
    }
}
