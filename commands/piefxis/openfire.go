package piefxis

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The Openfire format is what Openfire's User Import/Export plugin writes
// and reads (its "Openfire" flavour, not its XEP-0227 one):
//
//	<Openfire>
//	  <User>
//	    <Username>joe</Username><Password>joepwd</Password>
//	    <Email>joe@example.com</Email><Name>Joe</Name>
//	    <CreationDate>1125601449177</CreationDate><ModifiedDate>…</ModifiedDate>
//	    <Roster>
//	      <Item jid="sally@localhost" askstatus="-1" recvstatus="-1" substatus="3" name="Sally">
//	        <Group>Friends</Group>
//	      </Item>
//	    </Roster>
//	  </User>
//	</Openfire>
//
// Password is plaintext: the plugin asks Openfire for it, and when
// Openfire keeps only hashed passwords (SCRAM-SHA-1 keys in ofUser) it
// cannot, and writes the username instead. For those users a file may
// carry the keys as ofUser holds them, base64: StoredKey, ServerKey,
// Salt and IterationCount (xmppgate's addition; the plugin ignores unknown
// elements on export and never writes them). Openfire's groups are not in
// the plugin's export at all; a file may list them as Group elements
// beside the users (also xmppgate's addition), with ofGroup's name and
// description, ofGroupProp's sharedRoster.showInRoster and ofGroupUser's
// members and admins. See docs/backup.md.

// OpenfireFile is one Openfire export.
type OpenfireFile struct {
	Users  []OpenfireUser
	Groups []OpenfireGroup
}

// OpenfireUser is a user with what Openfire keeps beside the XEP-0227
// model: display name, email, creation time.
type OpenfireUser struct {
	User
	FullName, Email string
	Created         time.Time
	// PasswordIsUsername: the file's password equals the username, which is
	// what the plugin writes when it could not read the password.
	PasswordIsUsername bool
}

// OpenfireGroup is one of Openfire's groups.
type OpenfireGroup struct {
	Name, Description string
	// ShowInRoster is sharedRoster.showInRoster: "nobody" (or empty),
	// "onlyGroup" or "everybody".
	ShowInRoster    string
	Members, Admins []string
}

type ofFile struct {
	XMLName xml.Name  `xml:"Openfire"`
	Users   []ofUser  `xml:"User"`
	Groups  []ofGroup `xml:"Group"`
}

type ofUser struct {
	Username       *string  `xml:"Username"`
	Password       *string  `xml:"Password"`
	Email          string   `xml:"Email"`
	Name           string   `xml:"Name"`
	CreationDate   string   `xml:"CreationDate"`
	Items          []ofItem `xml:"Roster>Item"`
	StoredKey      string   `xml:"StoredKey"`
	ServerKey      string   `xml:"ServerKey"`
	Salt           string   `xml:"Salt"`
	IterationCount string   `xml:"IterationCount"`
}

type ofItem struct {
	JID        string   `xml:"jid,attr"`
	AskStatus  string   `xml:"askstatus,attr"`
	RecvStatus string   `xml:"recvstatus,attr"`
	SubStatus  string   `xml:"substatus,attr"`
	Name       string   `xml:"name,attr"`
	Groups     []string `xml:"Group"`
}

type ofGroup struct {
	Name         string   `xml:"Name"`
	Description  string   `xml:"Description"`
	ShowInRoster string   `xml:"ShowInRoster"`
	Members      []string `xml:"Member"`
	Admins       []string `xml:"Admin"`
}

// maxOpenfireBytes bounds an Openfire file (it holds no photos or messages).
const maxOpenfireBytes = 256 << 20

// ReadOpenfire reads an Openfire export. Errors name the user (or group)
// and the element or attribute that is wrong.
func ReadOpenfire(r io.Reader) (OpenfireFile, error) {
	var f ofFile
	d := xml.NewDecoder(io.LimitReader(r, maxOpenfireBytes))
	if err := d.Decode(&f); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) || strings.HasPrefix(err.Error(), "expected element type") || errors.Is(err, io.EOF) {
			return OpenfireFile{}, fmt.Errorf("not an Openfire user export: %v", err)
		}
		return OpenfireFile{}, err
	}
	var out OpenfireFile
	for i, x := range f.Users {
		u, err := openfireUser(x)
		if err != nil {
			who := fmt.Sprintf("user %d", i+1)
			if x.Username != nil {
				who = fmt.Sprintf("user %q", *x.Username)
			}
			return OpenfireFile{}, fmt.Errorf("%s: %w", who, err)
		}
		out.Users = append(out.Users, u)
	}
	for i, g := range f.Groups {
		if strings.TrimSpace(g.Name) == "" {
			return OpenfireFile{}, fmt.Errorf("group %d: Name is missing", i+1)
		}
		switch g.ShowInRoster {
		case "", "nobody", "onlyGroup", "everybody":
		default:
			return OpenfireFile{}, fmt.Errorf("group %q: ShowInRoster %q is not nobody, onlyGroup or everybody", g.Name, g.ShowInRoster)
		}
		out.Groups = append(out.Groups, OpenfireGroup{Name: g.Name, Description: g.Description, ShowInRoster: g.ShowInRoster,
			Members: g.Members, Admins: g.Admins})
	}
	return out, nil
}

func openfireUser(x ofUser) (OpenfireUser, error) {
	var u OpenfireUser
	if x.Username == nil || strings.TrimSpace(*x.Username) == "" {
		return u, errors.New("Username is missing")
	}
	u.Name, u.FullName, u.Email = *x.Username, x.Name, x.Email
	if x.Password != nil {
		u.Password = *x.Password
		u.PasswordIsUsername = u.Password == u.Name
	}
	if x.CreationDate != "" {
		ms, err := strconv.ParseInt(strings.TrimSpace(x.CreationDate), 10, 64)
		if err != nil {
			return u, fmt.Errorf("CreationDate %q is not milliseconds since 1970", x.CreationDate)
		}
		u.Created = time.UnixMilli(ms).UTC()
	}
	if x.StoredKey != "" || x.ServerKey != "" || x.Salt != "" || x.IterationCount != "" {
		s := SCRAM{Mechanism: ScramSHA1}
		for _, f := range []struct {
			name, text string
			out        *[]byte
		}{{"StoredKey", x.StoredKey, &s.StoredKey}, {"ServerKey", x.ServerKey, &s.ServerKey}, {"Salt", x.Salt, &s.Salt}} {
			if strings.TrimSpace(f.text) == "" {
				return u, fmt.Errorf("%s is missing (StoredKey, ServerKey, Salt and IterationCount go together)", f.name)
			}
			b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(f.text))
			if err != nil || len(b) == 0 {
				return u, fmt.Errorf("%s is not base64 (Openfire's ofUser keeps the SCRAM-SHA-1 keys so)", f.name)
			}
			*f.out = b
		}
		n, err := strconv.Atoi(strings.TrimSpace(x.IterationCount))
		if err != nil || n <= 0 {
			return u, fmt.Errorf("IterationCount %q is not a positive number", x.IterationCount)
		}
		s.Iterations = n
		u.SCRAM = []SCRAM{s}
	}
	for _, it := range x.Items {
		item := Item{JID: it.JID, Name: it.Name}
		if it.JID == "" {
			return u, errors.New("a Roster Item without jid")
		}
		switch strings.TrimSpace(it.SubStatus) {
		case "-1":
			continue // "should be removed"
		case "0":
			item.Subscription = "none"
		case "1":
			item.Subscription = "to"
		case "2":
			item.Subscription = "from"
		case "3":
			item.Subscription = "both"
		default:
			return u, fmt.Errorf("Roster Item %s: substatus %q is not -1, 0, 1, 2 or 3", it.JID, it.SubStatus)
		}
		switch strings.TrimSpace(it.AskStatus) {
		case "-1", "":
		case "0":
			item.Ask = true
		case "1":
			// A pending unsubscribe: the item is what it was asked to
			// stop being, and RFC 6121 has no state for that.
		default:
			return u, fmt.Errorf("Roster Item %s: askstatus %q is not -1, 0 or 1", it.JID, it.AskStatus)
		}
		switch strings.TrimSpace(it.RecvStatus) {
		case "-1", "", "2":
		case "1":
			u.Pending = append(u.Pending, it.JID)
		default:
			return u, fmt.Errorf("Roster Item %s: recvstatus %q is not -1, 1 or 2", it.JID, it.RecvStatus)
		}
		for _, g := range it.Groups {
			if strings.TrimSpace(g) != "" {
				item.Groups = append(item.Groups, g)
			}
		}
		u.Roster = append(u.Roster, item)
	}
	return u, nil
}
