$result = {
  'data' => [
    {
      'cmd' => 'jabber-add_user',
      'order' => [
        'token'
      ],
      'args' => [
        'username',
        'domain',
        'password'
      ],
      'optargs' => []
    }
  ],
  'result' => 'success'
};
