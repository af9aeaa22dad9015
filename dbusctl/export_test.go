package dbusctl

// PrivateSocketForTest lets the tests of package dbusctl_test connect
// through the system bus by pointing the private socket elsewhere.
var PrivateSocketForTest = &privateSocket
