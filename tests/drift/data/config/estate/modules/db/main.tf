resource "aws_db_instance" "main" {
  engine         = "postgres"
  instance_class = "db.t3.micro"
}

resource "aws_db_parameter_group" "main" {
  family = "postgres16"
}

data "aws_db_snapshot" "latest" {
  db_instance_identifier = aws_db_instance.main.identifier
  most_recent            = true
}
