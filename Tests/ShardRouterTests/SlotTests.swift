import Testing
@testable import ShardRouter

@Suite("Slot: CRC16-XMODEM and Redis hash tags")
struct SlotTests {
    @Test func crc16CheckValue() {
        #expect(CRC16.xmodem(Array("123456789".utf8)) == 0x31C3)
        #expect(CRC16.xmodem([UInt8]()) == 0)
    }

    @Test(arguments: [("foo", 12182), ("bar", 5061), ("", 0)])
    func knownRedisKeyslots(key: String, slot: Int) {
        #expect(Slot(forKey: key).rawValue == slot)
    }

    @Test func keysWithTheSameTagShareASlot() {
        #expect(Slot(forKey: "{user1000}.following") == Slot(forKey: "{user1000}.followers"))
        #expect(Slot(forKey: "{user1000}.following") == Slot(forKey: "user1000"))
    }

    @Test func emptyTagHashesTheWholeKey() {
        #expect(Array(HashTag.hashedPart(of: Array("foo{}{bar}".utf8))) == Array("foo{}{bar}".utf8))
        #expect(Slot(forKey: "foo{}{bar}").rawValue == Int(CRC16.xmodem(Array("foo{}{bar}".utf8))) % 16384)
    }

    @Test func tagEndsAtFirstCloseAfterFirstOpen() {
        #expect(Array(HashTag.hashedPart(of: Array("foo{{bar}}zap".utf8))) == Array("{bar".utf8))
        #expect(Slot(forKey: "foo{{bar}}zap") == Slot(forKey: "{bar"))
        #expect(Array(HashTag.hashedPart(of: Array("foo{bar}{zap}".utf8))) == Array("bar".utf8))
    }

    @Test func unmatchedBracesHashTheWholeKey() {
        for key in ["foo{bar", "foo}bar{", "}{", "{"] {
            #expect(Array(HashTag.hashedPart(of: Array(key.utf8))) == Array(key.utf8))
        }
    }

    @Test func worksOnAnyByteCollection() {
        let bytes: [UInt8] = Array("{user1000}.x".utf8)
        #expect(Slot(forKey: bytes[...]) == Slot(forKey: "user1000"))
        #expect(Slot(forKey: [0xFF, 0x00, 0x7B]).rawValue < Slot.count)
    }

    @Test func slotBounds() {
        #expect(Slot(rawValue: -1) == nil)
        #expect(Slot(rawValue: 16384) == nil)
        #expect(Slot(rawValue: 16383) == Slot.last)
    }
}

@Suite("SlotRange")
struct SlotRangeTests {
    @Test func closedRange() throws {
        let range = try #require(SlotRange(10, 20))
        #expect(range.count == 11)
        #expect(range.contains(Slot(rawValue: 10)!))
        #expect(range.contains(Slot(rawValue: 20)!))
        #expect(!range.contains(Slot(rawValue: 21)!))
        #expect(range.description == "10-20")
        #expect(SlotRange(5, 5)?.description == "5")
    }

    @Test func invalidRanges() {
        #expect(SlotRange(20, 10) == nil)
        #expect(SlotRange(0, 16384) == nil)
        #expect(SlotRange.all.count == 16384)
    }

    @Test func overlap() {
        #expect(SlotRange(0, 10)!.overlaps(SlotRange(10, 12)!))
        #expect(!SlotRange(0, 10)!.overlaps(SlotRange(11, 12)!))
    }
}
