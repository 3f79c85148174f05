import Testing
import MultiRaft
@testable import KVStore

/// SCAN in key order with cursors and Redis glob patterns.
@Suite struct ScanTests {
    func scanAll(_ m: KVStateMachine, count: Int, match: String? = nil) -> [[UInt8]] {
        var all: [[UInt8]] = []
        var cursor: [UInt8] = []
        var calls = 0
        repeat {
            let page = m.scan(after: cursor, count: count, match: match.map(b))
            // The empty key is never a resumption point, so it rides along with the first page.
            #expect(page.keys.count <= count + (page.keys.first == [] ? 1 : 0))
            all += page.keys
            calls += 1
            guard let next = page.next else { break }
            cursor = next
        } while calls < 100_000
        return all
    }

    @Test func everyKeyExactlyOnceInOrder() {
        let r = Replica()
        var expected: [[UInt8]] = []
        var rng = SplitMix64(seed: 42)
        for i in 0..<3_000 {
            let key = b("key:\(rng.next() % 100_000):\(i)")
            expected.append(key)
        }
        expected.append([])          // the empty key
        expected.append([0])
        expected.append([255, 255])
        r.apply(.multiSet(pairs: expected.map { ($0, b("v")) }))
        expected.sort { StoreKey($0) < StoreKey($1) }
        for count in [1, 2, 7, 100, 10_000] {
            #expect(scanAll(r.machine, count: count) == expected, "count \(count)")
        }
    }

    @Test func matchFiltersAndSkipsDeletedAndExpired() {
        let r = Replica()
        r.apply(.multiSet(pairs: (0..<500).map { (b("user:\($0)"), b("v")) } + (0..<500).map { (b("item:\($0)"), b("v")) }), at: 1_000)
        r.apply(.delete(keys: (0..<100).map { b("user:\($0)") }))
        for i in 100..<150 { _ = r.set("user:\(i)", "v", .always, .afterMillis(10)) }
        r.apply(.noop, at: 2_000)
        let users = scanAll(r.machine, count: 13, match: "user:*")
        #expect(users.count == 350)
        #expect(Set(users).count == 350)
        #expect(users.allSatisfy { $0.starts(with: b("user:")) })
        #expect(scanAll(r.machine, count: 50, match: "item:4?").count == 10)
        #expect(scanAll(r.machine, count: 1_000).count == r.machine.count)
    }

    @Test func emptyStore() {
        let page = KVStateMachine().scan(after: [], count: 10, match: nil)
        #expect(page.keys.isEmpty && page.next == nil)
    }

    @Test func globPatterns() {
        func m(_ pattern: String, _ text: String) -> Bool { GlobPattern(b(pattern)).matches(b(text)) }
        #expect(m("*", ""))
        #expect(m("*", "anything"))
        #expect(m("h?llo", "hello") && m("h?llo", "hallo") && !m("h?llo", "hllo"))
        #expect(m("h*llo", "hllo") && m("h*llo", "heeeello"))
        #expect(m("h[ae]llo", "hello") && m("h[ae]llo", "hallo") && !m("h[ae]llo", "hillo"))
        #expect(m("h[^e]llo", "hallo") && !m("h[^e]llo", "hello"))
        #expect(m("h[a-b]llo", "hbllo") && !m("h[a-b]llo", "hcllo"))
        #expect(m("h[b-a]llo", "hallo"), "a reversed range is swapped")
        #expect(m("a\\*b", "a*b") && !m("a\\*b", "axb"))
        #expect(m("[\\]]", "]"))
        #expect(m("*a*b*c*", "xxaxxbxxcxx") && !m("*a*b*c*", "xxaxxcxxbxx"))
        #expect(m("a*", "a") && !m("a*", "ba"))
        #expect(m("[abc", "b"), "an unterminated class runs to the end")
        #expect(m("ab\\", "ab\\"), "a trailing backslash is literal")
        #expect(!m("abc", "ab") && !m("ab", "abc"))
        // Pathological backtracking stays polynomial and never recurses.
        let long = String(repeating: "a", count: 2_000)
        #expect(!m(String(repeating: "*a", count: 50) + "b", long))
    }
}
