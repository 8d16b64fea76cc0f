import Testing
import SluiceCore
@testable import SluiceHTTP2

/// The stream-id table that replaced `Dictionary<Int32, …>` on the per-stream paths: checked
/// against a Dictionary under random inserts and removals, including ids chosen to collide.
@Suite struct StreamTableTests {
    final class Box { let id: Int32; init(_ id: Int32) { self.id = id } }

    func check(_ table: StreamTable<Box>, _ model: [Int32: Box]) {
        #expect(table.count == model.count)
        #expect(table.isEmpty == model.isEmpty)
        for (id, box) in model { #expect(table[id] === box) }
        var seen = 0
        table.forEach { id, box in
            #expect(model[id] === box)
            seen += 1
        }
        #expect(seen == model.count)
        #expect(Set(table.allValues.map { ObjectIdentifier($0) }) == Set(model.values.map { ObjectIdentifier($0) }))
    }

    @Test func matchesADictionaryUnderRandomChurn() {
        var rng = SystemRandomNumberGenerator()
        for idSpace: Int32 in [64, 4096, Int32.max] {
            let table = StreamTable<Box>()
            var model: [Int32: Box] = [:]
            for step in 0..<4000 {
                let id = Int32.random(in: 1...idSpace, using: &rng)
                if Bool.random(using: &rng) || model.count > 300 {
                    #expect(table.removeValue(forKey: id) === model.removeValue(forKey: id))
                } else {
                    let box = Box(id)
                    table[id] = box
                    model[id] = box
                }
                #expect(table[id] === model[id])
                if step % 97 == 0 { check(table, model) }
            }
            check(table, model)
            table.removeAll()
            check(table, [:])
        }
    }

    @Test func sequentialOddIdsAndCollidingIds() {
        let table = StreamTable<Box>()
        var model: [Int32: Box] = [:]
        // Client stream ids: odd and increasing, with streams closing out of order.
        for id in stride(from: Int32(1), to: 2001, by: 2) {
            let box = Box(id)
            table[id] = box
            model[id] = box
            if id % 7 == 0 { table[id - 6] = nil; model[id - 6] = nil }
            if model.count > 100, let first = model.keys.min() { table[first] = nil; model[first] = nil }
        }
        check(table, model)
        // Ids that share their home slot in a 16-slot table (same top bits after hashing).
        let colliding = (1..<Int32(200_000)).filter { (UInt32($0) &* 0x9E37_79B9) >> 28 == 5 }.prefix(7)
        let small = StreamTable<Box>(minimumCapacity: 8)
        var smallModel: [Int32: Box] = [:]
        for id in colliding { let b = Box(id); small[id] = b; smallModel[id] = b }
        check(small, smallModel)
        for id in colliding.reversed() where id % 2 == 0 { small[id] = nil; smallModel[id] = nil }
        check(small, smallModel)
    }

    @Test func replacingKeepsOneEntry() {
        let table = StreamTable<Box>()
        let a = Box(3), b = Box(3)
        table[3] = a
        table[3] = b
        #expect(table.count == 1)
        #expect(table[3] === b)
        #expect(table[5] == nil)
        #expect(table.removeValue(forKey: 5) == nil)
        // Id 0 (the connection) is never a key: looking it up or removing it changes nothing.
        #expect(table[0] == nil)
        #expect(table.removeValue(forKey: 0) == nil)
        #expect(table.count == 1)
        #expect(table[3] === b)
    }
}

/// H2HeaderBlock keeps value semantics over its shared raw storage.
@Suite struct HeaderBlockCopyTests {
    func fields(_ block: H2HeaderBlock) -> [String] {
        var out: [String] = []
        block.forEachField { n, v in out.append(String(decoding: n, as: UTF8.self) + "=" + String(decoding: v, as: UTF8.self)) }
        return out
    }

    @Test func copiesDoNotSeeLaterChanges() {
        var a = H2HeaderBlock(byteCapacity: 8)
        a.append(name: "x-one", value: "1")
        let b = a
        a.append(name: "x-two", value: "2")
        #expect(fields(b) == ["x-one=1"])
        #expect(fields(a) == ["x-one=1", "x-two=2"])
        var c = a
        a.removeAll()
        #expect(fields(c) == ["x-one=1", "x-two=2"])
        #expect(a.isEmpty && a.count == 0)
        c.removeAll()
        #expect(c.isEmpty)
    }

    @Test func growsPastItsCapacityAndLowercasesNames() {
        var a = H2HeaderBlock(byteCapacity: 4)
        var expected: [String] = []
        for i in 0..<40 {
            let name = "X-Header-\(i)-ABCdef"
            let value = String(repeating: "v", count: i)
            Array(name.utf8).withUnsafeBytes { n in Array(value.utf8).withUnsafeBytes { v in a.appendLowercasingName(name: n, value: v) } }
            expected.append(name.lowercased() + "=" + value)
        }
        #expect(fields(a) == expected)
        #expect(a.count == 40)
    }

    @Test func onlyXRequestIDIsNeverIndexed() {
        for (name, never) in [("x-request-id", true), ("content-type", false), ("x-request-ie", false), ("y-request-id", false)] {
            let bytes = Array(name.utf8)
            #expect(bytes.withUnsafeBytes { H2HeaderBlock.isUniquePerMessage($0) } == never, "\(name)")
        }
    }
}
