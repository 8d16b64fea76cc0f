import Testing
@testable import SluiceRouting

@Suite struct JSONPointerTests {
    func agree(_ a: String, _ b: String, _ pointer: String, tolerance: Double = 0.01) -> Bool {
        let p = JSONPointer(pointer)!
        return Array(a.utf8).withUnsafeBytes { x in Array(b.utf8).withUnsafeBytes { y in p.agree(x, y, tolerance: tolerance) } }
    }

    func value(_ json: String, _ pointer: String) -> String? {
        let bytes = Array(json.utf8)
        return bytes.withUnsafeBytes { raw in
            JSONPointer(pointer)!.valueRange(in: raw).map { String(decoding: bytes[$0], as: UTF8.self) }
        }
    }

    @Test func findsNestedValues() {
        let doc = #"{"request_id":"a\"b","predictions":{"fraud_probability":0.82,"is_fraud":true},"list":[1,{"x":"y"},3],"a/b":5,"m~n":6}"#
        #expect(value(doc, "/predictions/fraud_probability") == "0.82")
        #expect(value(doc, "/predictions/is_fraud") == "true")
        #expect(value(doc, "/list/1/x") == #""y""#)
        #expect(value(doc, "/list/2") == "3")
        #expect(value(doc, "/a~1b") == "5")
        #expect(value(doc, "/m~0n") == "6")
        #expect(value(doc, "/predictions") == #"{"fraud_probability":0.82,"is_fraud":true}"#)
        #expect(value(doc, "/missing") == nil)
        #expect(value(doc, "/list/7") == nil)
        #expect(value("{not json", "/a") == nil)
        #expect(JSONPointer("no-slash") == nil)
    }

    @Test func numbersAgreeWithinTolerance() {
        let a = #"{"predictions":{"fraud_probability":0.82}}"#
        #expect(agree(a, #"{"predictions": {"fraud_probability": 0.825}}"#, "/predictions/fraud_probability"))
        #expect(agree(a, #"{"predictions":{"fraud_probability":0.83}}"#, "/predictions/fraud_probability", tolerance: 0.01))
        #expect(!agree(a, #"{"predictions":{"fraud_probability":0.84}}"#, "/predictions/fraud_probability"))
        #expect(agree(#"{"l":"cat"}"#, #"{"l":"cat"}"#, "/l"))
        #expect(!agree(#"{"l":"cat"}"#, #"{"l":"dog"}"#, "/l"))
        #expect(!agree(a, #"{"other":1}"#, "/predictions/fraud_probability"))
    }

    /// Found by FuzzJSONPointer (`/0/0 NUL [[1e31000]]`): a number too large for a Double is
    /// infinite, infinity minus infinity is NaN, so a prediction disagreed with itself. The same
    /// held for NaN and Infinity, which Python's json module writes. Identical values agree.
    @Test func identicalValuesAgreeEvenWhenNotFinite() {
        #expect(agree("[[1e31000]]", "[[1e31000]]", "/0/0"))
        #expect(agree("[[1e31000]]", "[[1e31000]]", "/0/0", tolerance: 0))
        #expect(agree(#"{"p":NaN}"#, #"{"p":NaN}"#, "/p"))
        #expect(agree(#"{"p":Infinity}"#, #"{"p": 1e999}"#, "/p"))
        #expect(!agree(#"{"p":Infinity}"#, #"{"p":-Infinity}"#, "/p"))
        #expect(!agree(#"{"p":NaN}"#, #"{"p":0.5}"#, "/p"))
        #expect(!agree(#"{"p":1e999}"#, #"{"p":0.5}"#, "/p"))
    }
}
