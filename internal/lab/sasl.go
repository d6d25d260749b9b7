package lab

import "errors"

// loginServer is the server side of AUTH LOGIN (draft-murchison-sasl-login),
// which go-sasl offers only as a client. The client may send the username as
// an initial response.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

// Next implements sasl.Server.
func (ls *loginServer) Next(response []byte) (challenge []byte, done bool, err error) {
	switch ls.step {
	case 0:
		ls.step++
		if response == nil { // no initial response: ask for the username
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		ls.user = string(response)
		ls.step = 2
		return []byte("Password:"), false, nil
	case 2:
		ls.step++
		return nil, true, ls.check(ls.user, string(response))
	}
	return nil, true, errors.New("unexpected AUTH LOGIN response")
}
