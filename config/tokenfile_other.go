//go:build !unix

package config

import "io/fs"

// unsafeTokenFile refuses nothing on a system without Unix owners and
// permission bits (Windows): who may write a file or its directory is in
// their access control lists, which are not read here, and the mode Go
// reports (0444 or 0666, from the read-only attribute alone; 0777 for
// every directory) says nothing of other users — judged by the Unix rule,
// every token file and every directory would be refused. What is checked
// there is what readTokenFile and TokenUnsendable check everywhere: a
// regular file, not empty, at most maxTokenFileBytes, holding a token a
// client can send. Keeping the file where only the node's account may
// write it (its profile, or a directory whose ACL says so) is the
// operator's part.
func unsafeTokenFile(string, fs.FileInfo, bool) error { return nil }

// othersMayRead is false where there are no permission bits to say who
// may read a file (unsafeTokenFile): TokenFileWarning says nothing there.
func othersMayRead(fs.FileMode) bool { return false }
