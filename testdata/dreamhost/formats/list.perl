$result = {
  'data' => [
    {
      'username' => 'testuser',
      'domain' => 'example.com',
      'password' => 'abc123',
      'status' => 'active'
    }
  ],
  'result' => 'success'
};
