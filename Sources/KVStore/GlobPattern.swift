/// A Redis glob pattern (as `stringmatchlen`, case-sensitive): `*` any run of bytes, `?` one
/// byte, `[abc]`, `[^abc]` and `[a-z]` classes, `\` escaping the next byte. Matching is
/// iterative (backtracking to the last `*`), so no pattern can exhaust the stack.
public struct GlobPattern: Sendable {
    let pattern: [UInt8]

    public init(_ pattern: [UInt8]) { self.pattern = pattern }

    private static let star = UInt8(ascii: "*"), question = UInt8(ascii: "?")
    private static let open = UInt8(ascii: "["), close = UInt8(ascii: "]")
    private static let backslash = UInt8(ascii: "\\"), caret = UInt8(ascii: "^"), dash = UInt8(ascii: "-")

    public func matches(_ text: [UInt8]) -> Bool {
        let n = pattern.count
        var p = 0, i = 0
        // Where to resume after the last `*`: pattern position and the text position it has
        // consumed up to.
        var starP = -1, starI = 0
        while i < text.count {
            if p < n {
                let c = pattern[p]
                if c == Self.star {
                    while p < n && pattern[p] == Self.star { p += 1 }
                    if p == n { return true }
                    starP = p
                    starI = i
                    continue
                }
                var next = -1
                if c == Self.question {
                    next = p + 1
                } else if c == Self.open {
                    let (matched, end) = matchClass(at: p, text[i])
                    if matched { next = end }
                } else if c == Self.backslash && p + 1 < n {
                    if pattern[p + 1] == text[i] { next = p + 2 }
                } else if c == text[i] {
                    next = p + 1
                }
                if next >= 0 {
                    p = next
                    i += 1
                    continue
                }
            }
            guard starP >= 0 else { return false }
            starI += 1
            i = starI
            p = starP
        }
        while p < n && pattern[p] == Self.star { p += 1 }
        return p == n
    }

    /// Matches `byte` against the class opening at `start`; returns whether it matched and
    /// the pattern position after the class. An unterminated class runs to the pattern's end.
    private func matchClass(at start: Int, _ byte: UInt8) -> (Bool, Int) {
        let n = pattern.count
        var q = start + 1
        let negate = q < n && pattern[q] == Self.caret
        if negate { q += 1 }
        var matched = false
        while q < n {
            let c = pattern[q]
            if c == Self.backslash && n - q >= 2 {
                q += 1
                if pattern[q] == byte { matched = true }
            } else if c == Self.close {
                break
            } else if n - q >= 3 && pattern[q + 1] == Self.dash {
                let lo = min(c, pattern[q + 2]), hi = max(c, pattern[q + 2])
                if byte >= lo && byte <= hi { matched = true }
                q += 2
            } else if c == byte {
                matched = true
            }
            q += 1
        }
        return (negate ? !matched : matched, min(q + 1, n))
    }
}
