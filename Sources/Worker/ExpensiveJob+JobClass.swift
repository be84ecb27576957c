import Admission
import PasswordService

extension ExpensiveJob {
    /// What admission prices the job by: bcrypt's cost, or argon2id's memory and passes.
    var jobClass: JobClass {
        if let parameters = argon2Parameters {
            return .argon2id(memoryKiB: parameters.memoryKiB, passes: parameters.passes)
        }
        return .bcrypt(cost: bcryptCost ?? 0)
    }
}
