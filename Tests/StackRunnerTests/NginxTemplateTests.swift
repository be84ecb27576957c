import StackRunner
import Testing

@Suite("NginxTemplate")
struct NginxTemplateTests {
    @Test("substitutes every placeholder")
    func renders() throws {
        let template = NginxTemplate(text: "listen {{PORT}}; root {{ROOT}}; again {{PORT}};")
        #expect(try template.render(["PORT": "8080", "ROOT": "/srv"]) == "listen 8080; root /srv; again 8080;")
    }

    @Test("a placeholder without a value is an error")
    func missingValue() {
        let template = NginxTemplate(text: "listen {{PORT}}; root {{ROOT}};")
        #expect(throws: StackError.self) { try template.render(["PORT": "1"]) }
    }
}
