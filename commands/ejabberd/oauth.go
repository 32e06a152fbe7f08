package ejabberd

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands"
)

// OAuthTokenPath is ejabberd_oauth's token endpoint (request handler
// /oauth), where `ejabberd token` of processone's Go CLI asks for a token.
const OAuthTokenPath = "/oauth/token"

// tokenHandler answers POST /oauth/token with the password grant as
// ejabberd 23.01 does (ejabberd_oauth:process/2).
type tokenHandler struct {
	reg *commands.Registry
	env *commands.Env
	log *zap.Logger
}

// NewOAuth returns the token endpoint, to be mounted on OAuthTokenPath.
func NewOAuth(reg *commands.Registry, env *commands.Env) http.Handler {
	log := env.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &tokenHandler{reg: reg, env: env, log: log.Named("dialect.ejabberd.oauth")}
}

// tokenReply is the RFC 6749 answer ejabberd writes (json_response).
type tokenReply struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
	ExpiresIn   int64  `json:"expires_in"`
}

// oauthError is ejabberd's json_error: error and error_description.
func oauthError(errName, desc, result string) reply {
	return jsonReply(http.StatusBadRequest, struct {
		Error string `json:"error"`
		Desc  string `json:"error_description"`
	}{errName, desc}, result)
}

// webPage is ejabberd_web:error/1's XHTML page (not_found, not_allowed).
func webPage(status int, title, result string) reply {
	return reply{status: status, result: result, body: []byte("<?xml version='1.0'?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\" " +
		"\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns='http://www.w3.org/1999/xhtml' xml:lang='en' lang='en'>" +
		"<head><meta http-equiv='Content-Type' content='text/html; charset=utf-8'/></head><body><h1>" + title + "</h1></body></html>")}
}

func (h *tokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req request
	req.cmd = "oauth_token"
	rep := h.serve(r, &req)
	hd := w.Header()
	switch {
	case rep.body != nil && rep.body[0] == '<':
		hd.Set("Content-Type", "text/html; charset=utf-8")
	default:
		hd.Set("Content-Type", "application/json;charset=UTF-8")
		hd.Set("Cache-Control", "no-store")
		hd.Set("Pragma", "no-cache")
	}
	hd.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)
	h.env.LogRequest(commands.RequestLine{Dialect: commands.Ejabberd, Command: req.cmd, Account: req.account, Result: rep.result, Status: rep.status,
		Start: start, Err: rep.err}, h.log, zap.String("actor", req.actor))
}

// serve follows ejabberd's order: the client check (only once the JID's
// account registered a password-grant client), the grant type, the user
// and password, the scopes.
func (h *tokenHandler) serve(r *http.Request, req *request) reply {
	if r.Method != http.MethodPost {
		return webPage(http.StatusNotFound, "404 Not Found", "not_found")
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	if err != nil {
		return webPage(http.StatusBadRequest, "400 Bad Request", "bad_request")
	}
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return webPage(http.StatusBadRequest, "400 Bad Request", "bad_request")
	}
	for k, vs := range r.URL.Query() {
		if _, ok := q[k]; !ok {
			q[k] = vs
		}
	}
	ctx := r.Context()
	username := q.Get("username")
	req.actor = username
	subject, err := commands.ResolveOAuthSubject(ctx, h.env, username, nil)
	if err != nil && commands.AsError(err).Kind == commands.Internal {
		return internalError(err)
	}
	found := err == nil
	req.account = subject.Account
	if found {
		clientID, secret, ok := r.BasicAuth()
		if !ok {
			clientID, secret = q.Get("client_id"), q.Get("client_secret")
		}
		allowed, err := commands.CheckOAuthClient(ctx, h.env, subject.Account, clientID, secret)
		if err != nil {
			return internalError(err)
		}
		if !allowed {
			return webPage(http.StatusUnauthorized, "401 Unauthorized", "client_denied")
		}
	}
	if q.Get("grant_type") != "password" {
		return oauthError("unsupported_grant_type", "Unsupported grant type", "unsupported_grant_type")
	}
	ttl := int64(commands.DefaultOAuthTTL)
	if s := q.Get("ttl"); s != "" {
		if ttl, err = strconv.ParseInt(s, 10, 64); err != nil {
			return oauthError("invalid_request", "Invalid ttl", "invalid_ttl")
		}
	}
	if !subject.VerifyPassword(q.Get("password")) {
		return oauthError("invalid_grant", "Access denied", "access_denied")
	}
	scopes := strings.Fields(q.Get("scope"))
	if scopes == nil {
		scopes = []string{}
	}
	token, err := commands.IssueOAuthToken(ctx, h.env, apiReference{h.reg}, subject, scopes, ttl, subject.JID)
	if err != nil && commands.AsError(err).Reason == commands.ReasonInvalidScope {
		return oauthError("invalid_grant", "Invalid scope", "invalid_scope")
	}
	if err != nil {
		return internalError(err)
	}
	return jsonReply(http.StatusOK, tokenReply{AccessToken: token, TokenType: "bearer", Scope: strings.Join(scopes, " "), ExpiresIn: ttl}, "ok")
}
