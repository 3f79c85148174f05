#if canImport(Glibc)
import Glibc
#endif

/// Floats stored as decimal text, as Redis's INCRBYFLOAT reads and writes them: parsed with
/// `strtold` under `string2ld`'s rules (no space before or after, the whole text consumed, no
/// NaN, no overflow), summed in long double, written with `%.17Lf` and trailing zeros trimmed
/// ("10.6", "5200", never "-0").
///
/// Long double is the 80-bit x87 format on x86 (as Redis on x86 uses); elsewhere Double.
/// Every replica of a shard must run on the same kind, or their INCRBYFLOAT results could
/// differ in the last digits.
enum FloatText {
    #if arch(x86_64) || arch(i386)
    typealias Value = Float80
    #else
    typealias Value = Double
    #endif

    /// Redis's bound on a long double's text (MAX_LONG_DOUBLE_CHARS).
    static let maxCharacters = 5 * 1024

    static func parse(_ bytes: [UInt8]) -> Value? {
        guard !bytes.isEmpty, bytes.count < maxCharacters, !isSpace(bytes[0]), !bytes.contains(0) else { return nil }
        var text = bytes.map { CChar(bitPattern: $0) }
        text.append(0)
        errno = 0
        var end: UnsafeMutablePointer<CChar>?
        let value: Value = text.withUnsafeMutableBufferPointer { buffer in
            #if arch(x86_64) || arch(i386)
            let v = strtold(buffer.baseAddress!, &end)
            #else
            let v = strtod(buffer.baseAddress!, &end)
            #endif
            guard let end, end - buffer.baseAddress! == bytes.count else { return .nan }
            return v
        }
        if value.isNaN || isSpace(bytes[bytes.count - 1]) || errno == EINVAL { return nil }
        if errno == ERANGE && (value.isInfinite || value == 0) { return nil }
        return value
    }

    /// The text of a finite value.
    static func format(_ value: Value) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: maxCharacters + 32)
        #if arch(x86_64) || arch(i386)
        let n = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.17Lf", $0) }
        #else
        let n = withVaList([value]) { vsnprintf(&buffer, buffer.count, "%.17f", $0) }
        #endif
        var text = buffer.prefix(max(0, min(Int(n), buffer.count - 1))).map { UInt8(bitPattern: $0) }
        if text.contains(UInt8(ascii: ".")) {
            while text.last == UInt8(ascii: "0") { text.removeLast() }
            if text.last == UInt8(ascii: ".") { text.removeLast() }
        }
        if text == Array("-0".utf8) { text = [UInt8(ascii: "0")] }
        return text
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0d) }
}
